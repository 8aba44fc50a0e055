package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/modelstack"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// jsonResult is the document `run --format json` prints. Amounts in USD are
// rounded to 1e-9 USD (model.RoundUSD), so they print as exact decimals.
type jsonResult struct {
	StopReason string               `json:"stop_reason"`
	Messages   []jsonMessage        `json:"messages"`
	Usage      jsonUsage            `json:"usage"`
	CostUSD    float64              `json:"cost_usd"`
	PerAgent   map[string]jsonAgent `json:"per_agent"`
	DurationMS int64                `json:"duration_ms"`
	Model      string               `json:"model"`
	Team       string               `json:"team"`
	// Emulated is true when the built-in emulator answered: the costs are
	// what the same tokens would cost at the model's prices, not a bill.
	Emulated bool `json:"emulated"`
	// SavedTokens and SavedUSD are what the answers from the response cache
	// used and cost when they were first made: what the cache saved.
	SavedTokens int     `json:"saved_tokens,omitempty"`
	SavedUSD    float64 `json:"saved_usd,omitempty"`
	// PerDeployment is the usage per deployment that answered.
	PerDeployment map[string]jsonAgent `json:"per_deployment,omitempty"`
	Article       *desk.Article        `json:"article,omitempty"`
	// Sources are the documents the run read; Grounding the check of the
	// article against them (see tools.go).
	Sources   []jsonSource          `json:"sources"`
	Grounding *team.GroundingReport `json:"grounding,omitempty"`
	// Events are the run's security events: what its guard refused or
	// neutralised (a fetch without provenance, a forged boundary); [] when none.
	Events []jsonEvent `json:"events"`
}

// jsonEvent is a security event in `run --format json`.
type jsonEvent struct {
	Type string `json:"type"`
	untrusted.Event
}

type jsonMessage struct {
	Source  string    `json:"source"`
	Content string    `json:"content"`
	Usage   jsonUsage `json:"usage"`
	CostUSD float64   `json:"cost_usd"`
	Cached  bool      `json:"cached,omitempty"`
	// Deployment is the deployment that answered (a pool's member name, or
	// the one the agent asked for); Model the model the service named.
	Deployment string `json:"deployment,omitempty"`
	Model      string `json:"model,omitempty"`
	// CacheMatch is "exact" or "similar" for a cached message; Similarity
	// the similarity of a "similar" one.
	CacheMatch string  `json:"cache_match,omitempty"`
	Similarity float64 `json:"similarity,omitempty"`
	// ToolCalls are the tool calls the agent made for this message, with
	// their results (the run's tool_call and tool_result events).
	ToolCalls []agent.ToolExchange `json:"tool_calls,omitempty"`
}

type jsonUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// ReasoningTokens are the hidden reasoning tokens of a reasoning
	// deployment, part of completion_tokens (and billed as output).
	ReasoningTokens    int `json:"reasoning_tokens"`
	CachedPromptTokens int `json:"cached_prompt_tokens,omitempty"`
	// EmbeddingTokens and EmbeddingUSD are the similarity cache's
	// embeddings (their cost is part of cost_usd).
	EmbeddingTokens int     `json:"embedding_tokens,omitempty"`
	EmbeddingUSD    float64 `json:"embedding_usd,omitempty"`
}

type jsonAgent struct {
	jsonUsage
	Requests int     `json:"requests"`
	CostUSD  float64 `json:"cost_usd"`
	// Deployments counts the agent's messages by the deployment that answered.
	Deployments map[string]int `json:"deployments,omitempty"`
}

func writeJSON(w io.Writer, res *team.Result, info modelstack.Info, spec *desk.Spec, security []untrusted.Event) error {
	out := jsonResult{
		StopReason:  res.StopReason,
		Messages:    []jsonMessage{{Source: agent.SourceUser, Content: res.Task}},
		Usage:       usageOf(res.Usage),
		CostUSD:     model.RoundUSD(res.Usage.CostUSD),
		PerAgent:    map[string]jsonAgent{},
		DurationMS:  res.Duration.Milliseconds(),
		Model:       info.Model,
		Team:        spec.Name,
		Emulated:    info.Emulated,
		SavedTokens: res.Usage.SavedTokens,
		SavedUSD:    model.RoundUSD(res.Usage.SavedUSD),
		Sources:     sourcesJSON(res),
		Grounding:   res.Grounding.Report(),
		Events:      []jsonEvent{},
	}
	for _, e := range security {
		out.Events = append(out.Events, jsonEvent{Type: string(team.EventSecurity), Event: e})
	}
	for _, m := range res.Messages {
		out.Messages = append(out.Messages, jsonMessage{Source: m.Source, Content: m.Content,
			Usage: usageOf(m.Usage), CostUSD: model.RoundUSD(m.Usage.CostUSD), Cached: m.Cached, Deployment: m.Deployment, Model: m.Model,
			CacheMatch: cacheMatch(m), Similarity: m.Similarity, ToolCalls: m.ToolCalls})
	}
	for name, u := range res.PerAgent {
		out.PerAgent[name] = jsonAgent{jsonUsage: usageOf(u), Requests: u.Requests, CostUSD: model.RoundUSD(u.CostUSD)}
	}
	if len(res.PerDeployment) > 0 {
		out.PerDeployment = map[string]jsonAgent{}
		for name, u := range res.PerDeployment {
			out.PerDeployment[name] = jsonAgent{jsonUsage: usageOf(u), Requests: u.Requests, CostUSD: model.RoundUSD(u.CostUSD)}
		}
	}
	for _, m := range res.Messages {
		if a, ok := out.PerAgent[m.Source]; ok && m.Deployment != "" {
			if a.Deployments == nil {
				a.Deployments = map[string]int{}
			}
			a.Deployments[m.Deployment]++
			out.PerAgent[m.Source] = a
		}
	}
	if len(res.Messages) > 0 {
		a := spec.ArticleOf(res.Messages)
		out.Article = &a
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return errors.Join(errRunFailed, err)
	}
	return nil
}

func usageOf(u model.Usage) jsonUsage {
	return jsonUsage{u.PromptTokens, u.CompletionTokens, u.ReasoningTokens, u.CachedPromptTokens, u.EmbeddingTokens, model.RoundUSD(u.EmbeddingUSD)}
}

// writeMarkdown prints the article: the headline as "# …" (the first
// proposed headline, else the article's own title line, which is then not
// repeated), the body, and a Sources section when the result lists sources.
func writeMarkdown(w io.Writer, res *team.Result, spec *desk.Spec) {
	if len(res.Messages) == 0 {
		return
	}
	fmt.Fprint(w, articleMarkdown(spec.ArticleOf(res.Messages), sourcesOf(res)))
}

// mdSource is a source as the Markdown lists it.
type mdSource struct {
	ID         int
	Title, URL string
}

func articleMarkdown(a desk.Article, sources []mdSource) string {
	title, body := splitTitle(strings.TrimSpace(a.Body))
	head := title
	if len(a.Headlines) > 0 && strings.TrimSpace(a.Headlines[0]) != "" {
		head = strings.TrimSpace(a.Headlines[0])
	}
	var b strings.Builder
	if head != "" {
		b.WriteString("# " + head + "\n\n")
	}
	if body != "" {
		b.WriteString(body + "\n")
	}
	if len(sources) > 0 {
		b.WriteString("\n## Sources\n\n")
		for i, s := range sources {
			id := s.ID
			if id == 0 {
				id = i + 1
			}
			name := cmp.Or(s.Title, s.URL)
			if s.URL != "" {
				fmt.Fprintf(&b, "%d. [%s](%s)\n", id, escapeBrackets(name), s.URL)
			} else {
				fmt.Fprintf(&b, "%d. %s\n", id, name)
			}
		}
	}
	return b.String()
}

func escapeBrackets(s string) string {
	return strings.NewReplacer("[", `\[`, "]", `\]`).Replace(s)
}

// splitTitle separates an article's title line from its body: the first
// paragraph when it is a single short line that does not end a sentence
// (or a Markdown heading or a line in bold).
func splitTitle(body string) (title, rest string) {
	first, rest, found := strings.Cut(body, "\n\n")
	if !found || strings.Contains(first, "\n") {
		return "", body
	}
	t := strings.TrimSpace(strings.TrimLeft(first, "#"))
	if strings.HasPrefix(t, "**") && strings.HasSuffix(t, "**") && len(t) > 4 {
		t = strings.TrimSpace(t[2 : len(t)-2])
	}
	heading := strings.HasPrefix(first, "#")
	if t == "" || len(strings.Fields(t)) > 20 || (!heading && strings.HasSuffix(t, ".")) {
		return "", body
	}
	return t, strings.TrimSpace(rest)
}

// sourcesOf returns the sources of a run's result when team.Result carries
// them (a Sources field: a slice of structs with ID, Title and URL fields,
// as tool.Source has); nil when it has no such field. Reading the field by
// name keeps this renderer working whether or not the team package lists
// sources yet.
func sourcesOf(res *team.Result) []mdSource {
	return sourcesField(reflect.ValueOf(res).Elem())
}

func sourcesField(v reflect.Value) []mdSource {
	f := v.FieldByName("Sources")
	if !f.IsValid() || f.Kind() != reflect.Slice {
		return nil
	}
	var out []mdSource
	for i := range f.Len() {
		e := reflect.Indirect(f.Index(i))
		if e.Kind() != reflect.Struct {
			return nil
		}
		var s mdSource
		if id := e.FieldByName("ID"); id.IsValid() && id.CanInt() {
			s.ID = int(id.Int())
		}
		if t := e.FieldByName("Title"); t.IsValid() && t.Kind() == reflect.String {
			s.Title = t.String()
		}
		if u := e.FieldByName("URL"); u.IsValid() && u.Kind() == reflect.String {
			s.URL = u.String()
		}
		if s.Title != "" || s.URL != "" {
			out = append(out, s)
		}
	}
	return out
}

// cacheMatch says how a cached message matched: "exact", or "similar" for
// the similarity cache; "" when it was not cached.
func cacheMatch(m agent.Message) string {
	switch {
	case m.Similarity > 0:
		return "similar"
	case m.Cached:
		return "exact"
	}
	return ""
}
