package desk

import (
	"cmp"
	"strings"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
)

// Headlines is the structured answer of a desk's headline writer (the agent
// its article's headlines come from) on a deployment that takes structured
// outputs: the headline and its alternatives. The article's headlines are
// read from it; on other deployments the writer answers with a numbered
// list, which is read as before.
type Headlines struct {
	Headline     string   `json:"headline" jsonschema:"the best headline for the article, in title case"`
	Alternatives []string `json:"alternatives" jsonschema:"two or three other headlines, best first"`
}

// HeadlineFormat is the response format of the headline writer.
var HeadlineFormat = agent.MustOutputFormat[Headlines]("headlines", "A headline for the article and its alternatives.")

// structuredHeadlines reads a headline writer's structured answer; ok is
// false for text (a numbered list).
func structuredHeadlines(content string) ([]string, bool) {
	c := strings.TrimSpace(content)
	if !strings.HasPrefix(c, "{") {
		return nil, false
	}
	h, err := agent.ParseOutput[Headlines](agent.Message{Content: c})
	if err != nil || strings.TrimSpace(h.Headline) == "" {
		return nil, false
	}
	out := []string{strings.TrimSpace(h.Headline)}
	for _, a := range h.Alternatives {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out, true
}

// structured reports whether the deployment takes structured outputs: by
// the model behind the desk's default deployment (Config.ModelName) when it
// is that one, else by the deployment's name.
func (cfg *Config) structured(deployment string) bool {
	name := deployment
	if deployment == "" || deployment == cfg.Model {
		name = cmp.Or(cfg.ModelName, cfg.Model)
	}
	return model.SupportsStructuredOutputs(name)
}

// headlineWriter is the agent whose last message gives the article's headlines.
func (s *Spec) headlineWriter() string {
	if a := s.Article; a != nil {
		return first(a.Headlines, Headliner)
	}
	return Headliner
}
