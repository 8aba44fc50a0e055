package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/team"
)

// wireProxy stands between the CLI and the emulator: it passes every
// request on and records its body; with invent it adds a figure no source
// has to each answer of News_Reporter (the emulator never invents one), as
// a model might.
type wireProxy struct {
	URL string

	mu     sync.Mutex
	bodies [][]byte
}

// requests returns the bodies of the requests so far.
func (p *wireProxy) requests() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.bodies...)
}

func startWireProxy(t *testing.T, em *emulator.Running, invent bool) *wireProxy {
	t.Helper()
	p := &wireProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.bodies = append(p.bodies, body)
		p.mu.Unlock()
		var req struct {
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
		}
		_ = json.Unmarshal(body, &req)
		reporter := invent && len(req.Messages) > 0 && strings.HasPrefix(req.Messages[0].Content, "You are News_Reporter")
		out, err := http.NewRequestWithContext(r.Context(), r.Method, em.URL+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range r.Header {
			if k != "Accept-Encoding" && k != "Content-Length" {
				out.Header[k] = v
			}
		}
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if reporter && resp.StatusCode == http.StatusOK {
			var answer map[string]any
			if json.Unmarshal(data, &answer) == nil {
				if choices, _ := answer["choices"].([]any); len(choices) > 0 {
					msg, _ := choices[0].(map[string]any)["message"].(map[string]any)
					if text, _ := msg["content"].(string); text != "" {
						msg["content"] = strings.TrimRight(text, "\n") + "\n\nThe works cost 4.2 million dollars."
						data, _ = json.Marshal(answer)
					}
				}
			}
		}
		for k, v := range resp.Header {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// A run whose reporter keeps a claim no source supports runs into its cap:
// the approval never stands, the run ends with stop reason kind grounding,
// stderr names the claim, and the exit code is 1.
func TestRun_CappedWithUnsupportedClaimsExits1(t *testing.T) {
	em, err := emulator.Start(emulator.Config{APIKey: "grounding-key"}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	env, dir := cleanEnv(t, "AZURE_OPENAI_ENDPOINT="+startWireProxy(t, em, true).URL, "AZURE_OPENAI_DEPLOYMENT=d", "AZURE_OPENAI_API_KEY=grounding-key")
	r := runBinary(t, env, dir, "run", "--no-cache", "--no-tools", "--format", "json", "--max-messages", "5", facts)
	if r.code != 1 || !strings.Contains(r.stderr, "the article still makes claims no source supports: 4.2 million") {
		t.Fatalf("exit %d, want 1 and the unsupported claim named\n%s", r.code, r.stderr)
	}
	var out struct {
		StopReason string `json:"stop_reason"`
		Grounding  struct {
			Unsupported []string `json:"unsupported"`
		} `json:"grounding"`
		Messages []struct {
			Source string `json:"source"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if !strings.HasPrefix(out.StopReason, "grounding: ") || len(out.Grounding.Unsupported) != 1 || out.Grounding.Unsupported[0] != "4.2 million" {
		t.Fatalf("stop %q, grounding %+v", out.StopReason, out.Grounding)
	}
	held := false
	for _, m := range out.Messages {
		held = held || m.Source == team.GroundingCheck
	}
	if !held {
		t.Fatalf("no %s message in %+v", team.GroundingCheck, out.Messages)
	}

	// The same cap without the gate ends as a plain cap: exit 0.
	r = runBinary(t, env, dir, "run", "--no-cache", "--no-tools", "--no-grounding", "--format", "json", "--max-messages", "5", facts)
	if r.code != 0 {
		t.Fatalf("--no-grounding: exit %d\n%s", r.code, r.stderr)
	}
}

// groundingFailure is the one place a capped grounding becomes an error,
// and the error maps to exit code 1.
func TestGroundingFailure_ACappedGroundingIsARunFailure(t *testing.T) {
	t.Parallel()
	capped := &team.Result{StopReason: "grounding: unsupported claims remained when the run reached its cap (max messages reached (5))",
		Grounding: &team.Grounding{Checked: 4, Unsupported: []string{"4.2 million", "Jonas Berg"}}}
	err := groundingFailure(capped)
	if !errors.Is(err, errGrounding) || !strings.Contains(err.Error(), "4.2 million; Jonas Berg") {
		t.Fatalf("err %v, want errGrounding naming the claims", err)
	}
	var stderr bytes.Buffer
	if code := exitCode(context.Background(), nil, errors.Join(errRunFailed, err), &stderr); code != exitRunFailed {
		t.Fatalf("exit code %d, want %d", code, exitRunFailed)
	}
	for _, res := range []*team.Result{
		{StopReason: "max messages reached (5)", Grounding: &team.Grounding{Checked: 4, Unsupported: []string{"4.2 million"}}},
		{StopReason: "verdict APPROVE from News_Editor", Grounding: &team.Grounding{Checked: 4}},
	} {
		if err := groundingFailure(res); err != nil {
			t.Errorf("stop %q: err %v, want none", res.StopReason, err)
		}
	}
}
