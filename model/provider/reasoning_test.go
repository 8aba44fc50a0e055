package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
)

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestClient_Complete_ParametersPerFamily(t *testing.T) {
	srv := newRecorder(t, false, okJSON)
	req := fullRequest()
	req.ReasoningEffort, req.Verbosity = "low", "high"
	for _, tc := range []struct {
		name, deployment, modelName string
		want, never                 []string
	}{
		{"gpt-5 by its configured model", "prod-writer", "gpt-5-mini",
			[]string{"max_completion_tokens", "reasoning_effort", "verbosity"},
			[]string{"max_tokens", "temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "logit_bias"}},
		{"o3 by its deployment name", "o3", "",
			[]string{"max_completion_tokens", "reasoning_effort"},
			[]string{"max_tokens", "temperature", "top_p", "verbosity"}},
		{"gpt-4o keeps what it took", "chat", "gpt-4o",
			[]string{"max_tokens", "temperature", "top_p"},
			[]string{"max_completion_tokens", "reasoning_effort", "verbosity"}},
		{"gpt-5-chat is not a reasoning model", "chat5", "gpt-5-chat",
			[]string{"max_tokens", "temperature"},
			[]string{"max_completion_tokens", "reasoning_effort"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{Endpoint: srv.URL, Deployment: tc.deployment, DeploymentModel: tc.modelName, APIKey: "k"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Complete(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			reqs := srv.requests()
			body := reqs[len(reqs)-1].Body
			for _, k := range tc.want {
				if _, ok := body[k]; !ok {
					t.Errorf("%s missing: body has %v", k, keys(body))
				}
			}
			for _, k := range tc.never {
				if _, ok := body[k]; ok {
					t.Errorf("%s sent: body has %v", k, keys(body))
				}
			}
			if v, ok := body["max_completion_tokens"]; ok && v != float64(200) {
				t.Errorf("max_completion_tokens = %v, want the request's 200", v)
			}
		})
	}
}

// TestClient_Complete_AdaptsOnceToARefusedParameter runs a deployment whose
// name says nothing against the GPT-5 emulator: the first call sends
// max_tokens, the service refuses it, the client adapts (one resend) and
// remembers it, with one warning; the first answer's model (GPT-5) then
// tells it never to send a temperature.
func TestClient_Complete_AdaptsOnceToARefusedParameter(t *testing.T) {
	e := startEmulator(t, emulator.Config{APIKey: "k"}, false)
	var mu sync.Mutex
	var warned []string
	c, err := New(Config{Endpoint: e.URL, Deployment: "writer-prod", APIKey: "k",
		OnAdapt: func(d, p, code string) { mu.Lock(); warned = append(warned, d+" "+p+" "+code); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	req := reporterRequest()
	req.MaxTokens = 2000
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	reqs := e.Requests()
	if len(reqs) != 2 || reqs[0].Status != 400 || reqs[1].Status != 200 || reqs[1].MaxTokens != 2000 {
		t.Fatalf("requests %+v, want a refused one and its adapted resend", reqs)
	}
	temp := 0.3
	req.Temperature = &temp
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	statuses := []int{}
	for _, r := range e.Requests() {
		statuses = append(statuses, r.Status)
	}
	if !slices.Equal(statuses, []int{400, 200, 200, 200}) {
		t.Errorf("statuses %v: after the first answer named GPT-5, no temperature may be sent", statuses)
	}
	want := []string{"writer-prod max_tokens unsupported_parameter"}
	if !slices.Equal(warned, want) {
		t.Errorf("warnings %v, want %v", warned, want)
	}
	if p := c.Profile(""); !p.Reasoning || p.Name == "" {
		t.Errorf("profile after the first answer %+v: its model field names GPT-5", p)
	}
}

func TestClient_Complete_NeverResendsTwice(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"message":"Unsupported parameter: 'seed' is not supported with this model.","type":"invalid_request_error","param":"seed","code":"unsupported_parameter"}}`))
	})
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "odd", APIKey: "k"})
	_, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
	var me *model.Error
	if !errors.As(err, &me) || me.Code != "unsupported_parameter" || me.Param != "seed" || n != 2 {
		t.Fatalf("err %v after %d requests, want the second refusal after exactly one resend", err, n)
	}
}

func TestClient_Complete_V1APIWithKeyAndEntraIDForBothFamilies(t *testing.T) {
	e := startEmulator(t, emulator.Config{APIKey: "emu-key", TokenValidator: func(tok string) bool { return tok == "entra-tok" },
		Deployments: map[string]string{"chat4o": "gpt-4o-2024-11-20"}}, true)
	for _, tc := range []struct {
		name, deployment, modelName string
		cred                        bool
	}{
		{"gpt-5 with an API key", "writer5", "gpt-5", false},
		{"gpt-5 with Entra ID", "writer5", "gpt-5", true},
		{"gpt-4o with an API key", "chat4o", "gpt-4o", false},
		{"gpt-4o with Entra ID", "chat4o", "gpt-4o", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Endpoint: e.URL, Deployment: tc.deployment, DeploymentModel: tc.modelName, APIVersion: APIVersionV1, HTTPClient: trusting(e)}
			if tc.cred {
				cfg.Credential = &fakeCredential{token: "entra-tok"}
			} else {
				cfg.APIKey = "emu-key"
			}
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			req := reporterRequest()
			req.MaxTokens, req.ReasoningEffort = 3000, "low"
			resp, err := c.Complete(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			rec := e.Requests()[len(e.Requests())-1]
			wantAuth := emulator.AuthAPIKey
			if tc.cred {
				wantAuth = emulator.AuthBearer
			}
			if rec.Path != "/openai/v1/chat/completions" || rec.APIVersion != "" || rec.Deployment != tc.deployment || rec.Auth != wantAuth || rec.Status != 200 {
				t.Errorf("recorded %s api-version %q deployment %q auth %s status %d", rec.Path, rec.APIVersion, rec.Deployment, rec.Auth, rec.Status)
			}
			reasoning := resp.Usage.ReasoningTokens
			if strings.HasPrefix(tc.modelName, "gpt-5") != (reasoning > 0) || reasoning >= resp.Usage.CompletionTokens && reasoning > 0 {
				t.Errorf("usage %+v: reasoning tokens only for GPT-5, part of the completion", resp.Usage)
			}
		})
	}
}

func TestClient_Complete_DropsARefusedTemperatureForTheProcess(t *testing.T) {
	var mu sync.Mutex
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		if _, ok := body["temperature"]; ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"Unsupported value: 'temperature' does not support 0.5 with this model. Only the default (1) value is supported.","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}`))
			return
		}
		okJSON(w, r)
	}))
	t.Cleanup(srv.Close)
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "gpt-4o", APIKey: "k"})
	for range 2 {
		if _, err := c.Complete(context.Background(), fullRequest()); err != nil {
			t.Fatal(err)
		}
	}
	if len(bodies) != 3 {
		t.Fatalf("%d requests, want the refused one, its resend and one more", len(bodies))
	}
	for i, b := range bodies {
		if _, has := b["temperature"]; has != (i == 0) {
			t.Errorf("request %d temperature sent = %v", i, has)
		}
		if _, has := b["max_tokens"]; !has {
			t.Errorf("request %d lost max_tokens", i)
		}
	}
}
