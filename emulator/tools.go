package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/grounding"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// Function calling, as Azure OpenAI's chat completions API (2024-10-21)
// speaks it: tool definitions and tool_choice in the request, tool_calls in
// the answer (finish_reason "tool_calls"), streamed as chunks whose first
// piece of each call carries its index, id and name and whose following
// pieces carry fragments of its arguments, and "tool" messages answering a
// call by its tool_call_id.

// Names of the tools the personas know how to use.
const (
	ToolFetchURL = "fetch_url"
	ToolReadFeed = "read_feed"
)

type wireTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

type wireToolCall struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function wireCallFunction `json:"function"`
}

type wireCallFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// toolChunkCall is a piece of a streamed call (chatCompletionMessageToolCallChunk).
type toolChunkCall struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function toolChunkFunction `json:"function"`
}

type toolChunkFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// toolNames returns the function names the request offers.
func toolNames(tools []wireTool) map[string]bool {
	if len(tools) == 0 {
		return nil
	}
	out := make(map[string]bool, len(tools))
	for _, t := range tools {
		if t.Type == "function" || t.Type == "" {
			out[t.Function.Name] = true
		}
	}
	return out
}

// toolChoice decodes tool_choice: "none", "auto", "required", or the name of
// a function for {"type":"function","function":{"name":...}}.
func toolChoice(raw json.RawMessage) (string, bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return "", true
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		switch str {
		case "none", "auto", "required":
			return str, true
		}
		return "", false
	}
	var named struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &named) != nil || named.Type != "function" || named.Function.Name == "" {
		return "", false
	}
	return named.Function.Name, true
}

// checkToolMessages applies the service's rules on tool messages: each
// answers a call of the assistant message before it, and every call of an
// assistant message is answered before the next other message. It returns
// the service's error message, or "".
func checkToolMessages(msgs []model.Message) string {
	var open map[string]bool
	for i, m := range msgs {
		switch {
		case m.Role == model.RoleTool:
			if !open[m.ToolCallID] {
				return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
			}
			delete(open, m.ToolCallID)
		default:
			if len(open) > 0 {
				ids := make([]string, 0, len(open))
				for _, tc := range msgs[lastCalls(msgs, i)].ToolCalls {
					if open[tc.ID] {
						ids = append(ids, tc.ID)
					}
				}
				return "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: " + strings.Join(ids, ", ")
			}
			open = nil
			if m.Role == model.RoleAssistant && len(m.ToolCalls) > 0 {
				open = make(map[string]bool, len(m.ToolCalls))
				for _, tc := range m.ToolCalls {
					open[tc.ID] = true
				}
			}
		}
	}
	return ""
}

func lastCalls(msgs []model.Message, before int) int {
	for i := before - 1; i >= 0; i-- {
		if len(msgs[i].ToolCalls) > 0 {
			return i
		}
	}
	return 0
}

var urlPattern = regexp.MustCompile(`https?://[^\s<>"'()\[\]{}]+`)

// taskURLs returns the http(s) URLs of the task, in order, without repeats.
func taskURLs(task string) []string {
	var out []string
	seen := map[string]bool{}
	for _, u := range urlPattern.FindAllString(task, -1) {
		u = strings.TrimRight(u, ".,;:!?")
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// isFeedURL guesses from its path whether a URL is a feed.
func isFeedURL(u string) bool {
	l := strings.ToLower(u)
	for _, s := range []string{".rss", ".atom", ".xml", "/feed", "/rss", "feed.json", "/atom"} {
		if strings.HasSuffix(l, s) || strings.Contains(l, s+"?") || strings.HasSuffix(l, s+"/") {
			return true
		}
	}
	return false
}

// plannedToolCalls is what a persona asks for before it writes: when it may
// call fetch_url (or read_feed for a feed) and the task names URLs it has
// not asked for yet, one call per such URL, all in one answer.
func plannedToolCalls(msgs []model.Message, tools map[string]bool, choice string) []model.ToolCall {
	if choice == "none" || len(tools) == 0 || (!tools[ToolFetchURL] && !tools[ToolReadFeed]) {
		return nil
	}
	if len(msgs) > 0 {
		if _, ok := selectionCandidates(msgs[0].Content); ok {
			return nil
		}
	}
	asked := map[string]bool{}
	rounds := 0
	for _, m := range msgs {
		if m.Role != model.RoleAssistant || len(m.ToolCalls) == 0 {
			continue
		}
		rounds++
		for _, tc := range m.ToolCalls {
			var a struct {
				URL string `json:"url"`
			}
			if json.Unmarshal([]byte(tc.Arguments), &a) == nil {
				asked[a.URL] = true
			}
		}
	}
	t := task(msgs)
	var calls []model.ToolCall
	for _, u := range taskURLs(t) {
		if asked[u] {
			continue
		}
		name := ToolFetchURL
		if (isFeedURL(u) && tools[ToolReadFeed]) || !tools[ToolFetchURL] {
			name = ToolReadFeed
		}
		if choice != "" && choice != "auto" && choice != "required" && choice != name {
			continue
		}
		args, _ := json.Marshal(map[string]string{"url": u})
		sum := sha256.Sum256([]byte(t + "\x00" + u + "\x00" + strconv.Itoa(rounds) + "\x00" + strconv.Itoa(len(calls))))
		calls = append(calls, model.ToolCall{ID: "call_" + hex.EncodeToString(sum[:12]), Name: name, Arguments: string(args)})
	}
	return calls
}

// toolSource is what came back from one tool call, as the personas read it.
type toolSource struct {
	id    int
	title string
	text  string
}

// toolSources returns the documents the tool messages of the conversation
// brought back, in order. A result that carries a "source" number keeps
// it; others are numbered by their order. Error results are skipped.
func toolSources(msgs []model.Message) []toolSource {
	var out []toolSource
	seen := map[int]bool{}
	for _, m := range msgs {
		if m.Role == model.RoleUser && m.Name == SourceDocuments {
			for _, d := range givenSources(m.Content) {
				if !seen[d.id] {
					seen[d.id] = true
					out = append(out, d)
				}
			}
			continue
		}
		if m.Role != model.RoleTool {
			continue
		}
		var r struct {
			Source int    `json:"source"`
			Title  string `json:"title"`
			Text   string `json:"text"`
			Error  string `json:"error"`
			Items  []struct {
				Title   string `json:"title"`
				Summary string `json:"summary"`
			} `json:"items"`
		}
		// A model reads a result through the run's boundaries (package untrusted).
		if json.Unmarshal([]byte(untrusted.Inner(m.Content)), &r) != nil || r.Error != "" {
			continue
		}
		text := r.Text
		for _, it := range r.Items {
			text += "\n" + ensureStop(strings.TrimSpace(it.Title))
			if s := strings.TrimSpace(it.Summary); s != "" {
				text += " " + ensureStop(s)
			}
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		id := r.Source
		if id <= 0 {
			id = len(out) + 1
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, toolSource{id: id, title: r.Title, text: text})
	}
	return out
}

// maxSourceSentences bounds what the reporter takes from each source.
const maxSourceSentences = 4

// sourceFacts turns fetched documents into the facts of an article, each
// sentence copied as it stands in its source and followed by its citation.
func sourceFacts(srcs []toolSource) []string {
	var out []string
	for _, s := range srcs {
		n := 0
		for _, sent := range sentences(s.text) {
			sent = strings.TrimSpace(sent)
			// The reporter's prompt: a source's instructions to a model are
			// data, never facts of the article.
			if wordCount(sent) < 4 || grounding.IsImperative(sent) {
				continue
			}
			out = append(out, trimStop(sent)+" ["+strconv.Itoa(s.id)+"]"+stopOf(sent))
			if n++; n == maxSourceSentences {
				break
			}
		}
	}
	return out
}

var citation = regexp.MustCompile(`\s*\[\d+\]`)

// stripCitations removes the [n] markers, for a title line.
func stripCitations(s string) string { return citation.ReplaceAllString(s, "") }

// countTools is the prompt tokens the tool definitions add, as the service
// bills them: the definitions' JSON, tokenized.
func (s *Server) countTools(tools []wireTool) int {
	if len(tools) == 0 {
		return 0
	}
	b, _ := json.Marshal(tools)
	return s.countText(string(b))
}

// toolCallTokens is the completion tokens of a tool-call answer.
func (s *Server) toolCallTokens(calls []model.ToolCall) int {
	n := 0
	for _, c := range calls {
		n += 3 + s.countText(c.Name) + s.countText(c.Arguments)
	}
	return n
}

type toolCompletionMessage struct {
	Role      string         `json:"role"`
	Content   *string        `json:"content"`
	Refusal   *string        `json:"refusal"`
	ToolCalls []wireToolCall `json:"tool_calls"`
}

func wireCalls(calls []model.ToolCall) []wireToolCall {
	out := make([]wireToolCall, len(calls))
	for i, c := range calls {
		out[i] = wireToolCall{ID: c.ID, Type: "function", Function: wireCallFunction{Name: c.Name, Arguments: c.Arguments}}
	}
	return out
}

// respondToolCalls answers with tool calls, not streamed.
func (s *Server) respondToolCalls(ctx context.Context, w http.ResponseWriter, c *call, calls []model.ToolCall, completionTokens int) {
	if !pauseFor(ctx, c.latency.TimeToFirstToken+time.Duration(completionTokens)*c.latency.perToken()) {
		return
	}
	resp := newCompletion(c, c.model, toolCompletionMessage{Role: "assistant", ToolCalls: wireCalls(calls)}, "tool_calls",
		completionTokens, json.RawMessage(`{}`))
	b, ok := encode(w, resp)
	if !ok {
		return
	}
	if c.fault == FaultCut || c.fault == FaultMalformed {
		cutBody(w, b)
	}
	c.rec.Completed = writeBody(w, http.StatusOK, b) == nil
}

// streamToolCalls streams tool calls the way Azure does: per call, a chunk
// with its index, id, type, name and empty arguments (the first one also
// with the role and a null content), then its arguments in token-sized
// fragments; then the finish_reason "tool_calls" chunk, the usage chunk
// when asked for, and [DONE].
func (s *Server) streamToolCalls(ctx context.Context, w http.ResponseWriter, c *call, calls []model.ToolCall, completionTokens int) {
	es := startStream(w)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	type delta struct {
		Role      string          `json:"role,omitempty"`
		Content   *string         `json:"content,omitempty"`
		ToolCalls []toolChunkCall `json:"tool_calls,omitempty"`
	}
	type choice struct {
		Index                int             `json:"index"`
		Delta                json.RawMessage `json:"delta"`
		FinishReason         *string         `json:"finish_reason"`
		Logprobs             *struct{}       `json:"logprobs"`
		ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
	}
	type toolChunk struct {
		Choices           []choice   `json:"choices"`
		Created           int64      `json:"created"`
		ID                string     `json:"id"`
		Model             string     `json:"model"`
		Object            string     `json:"object"`
		SystemFingerprint string     `json:"system_fingerprint"`
		Usage             *usageBody `json:"usage,omitempty"`
	}
	mk := func(d any, finish *string) toolChunk {
		raw, _ := json.Marshal(d)
		ch := choice{Delta: raw, FinishReason: finish}
		if c.azure {
			ch.ContentFilterResults = json.RawMessage(`{}`)
		}
		return toolChunk{Choices: []choice{ch}, Created: c.created, ID: c.id, Model: c.model,
			Object: "chat.completion.chunk", SystemFingerprint: systemFingerprint}
	}
	if c.azure && !es.sendJSON(chunk{Choices: []chunkChoice{}, PromptFilterResults: promptFilters}) {
		return
	}
	if !pause(ctx, timer, c.latency.TimeToFirstToken) {
		return
	}
	perToken := c.latency.perToken()
	for i, tc := range calls {
		head := map[string]any{"tool_calls": []toolChunkCall{{Index: i, ID: tc.ID, Type: "function",
			Function: toolChunkFunction{Name: tc.Name}}}}
		if i == 0 {
			head["role"] = "assistant"
			head["content"] = nil
		}
		if !es.sendJSON(mk(head, nil)) {
			return
		}
		pieces := s.tok.Split(tc.Arguments)
		for j, p := range pieces {
			if i == len(calls)-1 && j == len(pieces)/2 && c.fault == FaultCut {
				panic(http.ErrAbortHandler)
			}
			if !pause(ctx, timer, perToken) {
				return
			}
			if !es.sendJSON(mk(delta{ToolCalls: []toolChunkCall{{Index: i, Function: toolChunkFunction{Arguments: p}}}}, nil)) {
				return
			}
		}
	}
	finish := "tool_calls"
	if !es.sendJSON(mk(struct{}{}, &finish)) {
		return
	}
	if c.rec.IncludeUsage {
		u := toolChunk{Choices: []choice{}, Created: c.created, ID: c.id, Model: c.model,
			Object: "chat.completion.chunk", SystemFingerprint: systemFingerprint, Usage: newUsage(c, completionTokens)}
		if !es.sendJSON(u) {
			return
		}
	}
	c.rec.Completed = es.done()
}

// stopOf returns the punctuation that ends a sentence ("." when none).
func stopOf(s string) string {
	if strings.HasSuffix(s, "?") || strings.HasSuffix(s, "!") {
		return s[len(s)-1:]
	}
	return "."
}

// SourceDocuments is the name of the message that hands a team the documents
// given before the run: "[n] Title — URL" lines, each followed by the text.
const SourceDocuments = "Source_Documents"

var sourceHeader = regexp.MustCompile(`^\[(\d+)\] (.*)$`)

// givenSources reads the documents of a SourceDocuments message.
func givenSources(content string) []toolSource {
	var out []toolSource
	var cur *toolSource
	for _, line := range strings.Split(content, "\n") {
		if untrusted.IsMarker(line) {
			continue
		}
		if m := sourceHeader.FindStringSubmatch(line); m != nil {
			id, _ := strconv.Atoi(m[1])
			title, _, _ := strings.Cut(m[2], " — ")
			out = append(out, toolSource{id: id, title: title})
			cur = &out[len(out)-1]
			continue
		}
		if cur != nil {
			cur.text += line + "\n"
		}
	}
	return out
}
