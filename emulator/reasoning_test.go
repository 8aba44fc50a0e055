package emulator

import (
	"net/http"
	"strings"
	"testing"
)

// gpt4oPath is a GPT-4o deployment next to the GPT-5 default (Config.Deployments).
const gpt4oPath = "/openai/deployments/chat4o/chat/completions?api-version=" + testVersion

func twoFamilies(t *testing.T) *Running {
	return mustStart(t, Config{Deployments: map[string]string{"chat4o": "gpt-4o-2024-11-20"}}, Options{})
}

func str(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

func TestServer_reasoningDeploymentRefusesWhatAzureRefuses(t *testing.T) {
	r := twoFamilies(t)
	for _, tc := range []struct {
		name         string
		path         string
		extra        map[string]any
		code, param  string
		messageStart string
	}{
		{"gpt-5 refuses max_tokens", azurePath, map[string]any{"max_tokens": 100}, "unsupported_parameter", "max_tokens",
			"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."},
		{"gpt-5 refuses a temperature other than 1", azurePath, map[string]any{"temperature": 0.2}, "unsupported_value", "temperature",
			"Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported."},
		{"gpt-5 refuses top_p", azurePath, map[string]any{"top_p": 0.9}, "unsupported_parameter", "top_p", "Unsupported parameter: 'top_p'"},
		{"gpt-5 refuses presence_penalty", azurePath, map[string]any{"presence_penalty": 0.5}, "unsupported_parameter", "presence_penalty", "Unsupported parameter"},
		{"gpt-5 refuses frequency_penalty", azurePath, map[string]any{"frequency_penalty": 0.5}, "unsupported_parameter", "frequency_penalty", "Unsupported parameter"},
		{"gpt-5 refuses logprobs", azurePath, map[string]any{"logprobs": true}, "unsupported_parameter", "logprobs", "Unsupported parameter"},
		{"gpt-5 refuses logit_bias", azurePath, map[string]any{"logit_bias": map[string]int{"50256": -100}}, "unsupported_parameter", "logit_bias", "Unsupported parameter"},
		{"gpt-5 has no effort none", azurePath, map[string]any{"reasoning_effort": "none"}, "invalid_value", "reasoning_effort",
			"Invalid value: 'none'. Supported values are: 'minimal', 'low', 'medium', and 'high'."},
		{"gpt-4o refuses reasoning_effort", gpt4oPath, map[string]any{"reasoning_effort": "low"}, "unsupported_parameter", "reasoning_effort", "Unsupported parameter: 'reasoning_effort'"},
		{"gpt-4o refuses verbosity", gpt4oPath, map[string]any{"verbosity": "low"}, "unsupported_parameter", "verbosity", "Unsupported parameter: 'verbosity'"},
		{"an api-version before 2024-09-01-preview has no max_completion_tokens",
			"/openai/deployments/gpt-5/chat/completions?api-version=2024-06-01", map[string]any{"max_completion_tokens": 100}, "<null>", "<null>",
			"Unrecognized request argument supplied: max_completion_tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := do(t, r, reqOpts{path: tc.path, body: chatBody(simpleMsgs(), tc.extra)})
			e := decode[wireError](t, data)
			if resp.StatusCode != http.StatusBadRequest || str(e.Error.Code) != tc.code || str(e.Error.Param) != tc.param ||
				str(e.Error.Type) != "invalid_request_error" || !strings.HasPrefix(e.Error.Message, tc.messageStart) {
				t.Errorf("status %d body %s, want 400 %s on %s", resp.StatusCode, data, tc.code, tc.param)
			}
		})
	}
	t.Run("gpt-4o takes what it always took", func(t *testing.T) {
		resp, data := do(t, r, reqOpts{path: gpt4oPath, body: chatBody(simpleMsgs(), map[string]any{"max_tokens": 100, "temperature": 0.2, "top_p": 0.9})})
		c := decode[wireCompletion](t, data)
		if resp.StatusCode != 200 || c.Model != "gpt-4o-2024-11-20" || c.Usage.CompletionTokensDetails.ReasoningTokens != 0 {
			t.Errorf("status %d: %s", resp.StatusCode, data)
		}
	})
	t.Run("gpt-5 takes temperature 1, max_completion_tokens, reasoning_effort and verbosity", func(t *testing.T) {
		resp, data := do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), map[string]any{"temperature": 1, "max_completion_tokens": 2000,
			"reasoning_effort": "low", "verbosity": "high"})})
		if resp.StatusCode != 200 || decode[wireCompletion](t, data).Model != DefaultModelName {
			t.Errorf("status %d: %s", resp.StatusCode, data)
		}
	})
}

func TestServer_reasoningTokensGrowWithEffortAndPrompt(t *testing.T) {
	r := mustStart(t, Config{}, Options{})
	reasoning := func(effort string, msgs []msg) (int, int) {
		extra := map[string]any{}
		if effort != "" {
			extra["reasoning_effort"] = effort
		}
		_, data := do(t, r, reqOpts{path: azurePath, body: chatBody(msgs, extra)})
		c := decode[wireCompletion](t, data)
		return c.Usage.CompletionTokensDetails.ReasoningTokens, c.Usage.CompletionTokens
	}
	short := []msg{{Role: "system", Content: "You are News_Reporter, a reporter."}, {Role: "user", Content: testTask}}
	long := []msg{short[0], {Role: "user", Content: strings.Repeat(testTask+" ", 20)}}
	prev := -1
	for _, effort := range []string{"minimal", "low", "medium", "high"} {
		n, completion := reasoning(effort, short)
		if n <= prev || completion <= n {
			t.Errorf("effort %s: %d reasoning of %d completion tokens, want more than %d and less than the completion", effort, n, completion, prev)
		}
		if longer, _ := reasoning(effort, long); longer <= n {
			t.Errorf("effort %s: a 20 times longer prompt took %d reasoning tokens, the short one %d", effort, longer, n)
		}
		prev = n
	}
	medium, _ := reasoning("medium", short)
	if def, _ := reasoning("", short); def != medium {
		t.Errorf("no effort spent %d reasoning tokens, medium %d: GPT-5's default is medium", def, medium)
	}
}

func TestServer_reasoningBudgetTooSmallAnswersLengthWithNoContent(t *testing.T) {
	r := mustStart(t, Config{}, Options{})
	msgs := []msg{{Role: "system", Content: "You are News_Reporter, a reporter."}, {Role: "user", Name: "user", Content: testTask}}
	for _, stream := range []bool{false, true} {
		body := chatBody(msgs, map[string]any{"max_completion_tokens": 40, "reasoning_effort": "high"})
		if !stream {
			_, data := do(t, r, reqOpts{path: azurePath, body: body})
			c := decode[wireCompletion](t, data)
			if c.Choices[0].FinishReason != "length" || c.Choices[0].Message.Content != "" ||
				c.Usage.CompletionTokens != 40 || c.Usage.CompletionTokensDetails.ReasoningTokens != 40 {
				t.Errorf("answer %s, want length, no content, 40 of 40 tokens reasoning", data)
			}
			continue
		}
		body["stream"], body["stream_options"] = true, map[string]any{"include_usage": true}
		_, data := do(t, r, reqOpts{path: azurePath, body: body})
		text, finish, usage := parseSSE(t, data).content(t)
		if text != "" || finish != "length" || usage == nil || usage.Usage.CompletionTokensDetails.ReasoningTokens != 40 {
			t.Errorf("streamed %q finish %q usage %+v", text, finish, usage)
		}
	}
	t.Run("room for the reasoning and part of the text cuts the text", func(t *testing.T) {
		_, data := do(t, r, reqOpts{path: azurePath, body: chatBody(msgs, map[string]any{"max_completion_tokens": 60, "reasoning_effort": "minimal"})})
		c := decode[wireCompletion](t, data)
		if c.Choices[0].FinishReason != "length" || c.Choices[0].Message.Content == "" || c.Usage.CompletionTokens != 60 {
			t.Errorf("answer %s", data)
		}
	})
}

func TestServer_verbosityLowShortensTheAnswer(t *testing.T) {
	r := mustStart(t, Config{}, Options{})
	msgs := []msg{{Role: "system", Content: "You are News_Reporter, a reporter."}, {Role: "user", Name: "user", Content: testTask}}
	answer := func(v string) string {
		_, data := do(t, r, reqOpts{path: azurePath, body: chatBody(msgs, map[string]any{"verbosity": v})})
		return decode[wireCompletion](t, data).Choices[0].Message.Content
	}
	low, medium, high := answer("low"), answer("medium"), answer("high")
	if len(low) >= len(medium) || medium != high || !strings.Contains(low, "library") {
		t.Errorf("low %d bytes, medium %d, high %d:\n%s", len(low), len(medium), len(high), low)
	}
}

func TestServer_v1RouteTakesTheDeploymentFromTheBody(t *testing.T) {
	r := mustStart(t, Config{APIKey: testKey, Deployments: map[string]string{"chat4o": "gpt-4o-2024-11-20"}}, Options{})
	for _, tc := range []struct{ dep, model string }{{"my-gpt5", DefaultModelName}, {"chat4o", "gpt-4o-2024-11-20"}} {
		body := chatBody(simpleMsgs(), map[string]any{"model": tc.dep})
		resp, data := do(t, r, reqOpts{path: "/openai/v1/chat/completions", headers: map[string]string{"api-key": testKey}, body: body})
		c := decode[wireCompletion](t, data)
		rec := r.Requests()[len(r.Requests())-1]
		if resp.StatusCode != 200 || c.Model != tc.model || rec.Deployment != tc.dep || rec.APIVersion != "" || len(c.PromptFilterResults) != 1 {
			t.Errorf("status %d model %q recorded %+v", resp.StatusCode, c.Model, rec)
		}
	}
	resp, data := do(t, r, reqOpts{path: "/openai/v1/chat/completions", headers: map[string]string{"api-key": testKey}, body: chatBody(simpleMsgs(), nil)})
	if e := decode[wireError](t, data); resp.StatusCode != 400 || str(e.Error.Param) != "model" {
		t.Errorf("without a model: status %d %s", resp.StatusCode, data)
	}
}
