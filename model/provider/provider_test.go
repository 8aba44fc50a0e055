package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/model"
)

// recorded is one request a test server saw.
type recorded struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   map[string]any
}

// recorder is an httptest server that records requests and answers with handle.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newRecorder(t *testing.T, useTLS bool, handle http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.URL.Query(), req.Header.Clone(), body})
		r.mu.Unlock()
		handle(w, req)
	})
	if useTLS {
		r.Server = httptest.NewTLSServer(h)
	} else {
		r.Server = httptest.NewServer(h)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func (r *recorder) only(t *testing.T) recorded {
	t.Helper()
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

const completionJSON = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-2024-11-20",
"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Hello there."}}],
"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":8}}}`

func okJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("apim-request-id", "req-123")
	_, _ = io.WriteString(w, completionJSON)
}

// fakeCredential is an azcore.TokenCredential that hands out a fixed token
// and records the scopes it was asked for.
type fakeCredential struct {
	mu     sync.Mutex
	token  string
	scopes [][]string
	err    error
}

func (f *fakeCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scopes = append(f.scopes, opts.Scopes)
	if f.err != nil {
		return azcore.AccessToken{}, f.err
	}
	return azcore.AccessToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func ptr[T any](v T) *T { return &v }

func fullRequest() *model.Request {
	return &model.Request{
		Messages: []model.Message{
			{Role: model.RoleSystem, Content: "You are a reporter."},
			{Role: model.RoleUser, Name: "user", Content: "Write about the fair."},
			{Role: model.RoleAssistant, Name: "News_Reporter", Content: "Draft."},
		},
		MaxTokens:   200,
		Temperature: ptr(0.5),
		TopP:        ptr(0.9),
		Seed:        ptr(int64(42)),
		Stop:        []string{"END", "STOP"},
		JSONMode:    true,
	}
}

func TestClient_Complete_AzureAPIKeyWireRequest(t *testing.T) {
	srv := newRecorder(t, false, okJSON)
	c, err := New(Config{Kind: KindAzure, Endpoint: srv.URL, Deployment: "gpt4o-dep", APIKey: "secret-key-1"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Complete(context.Background(), fullRequest())
	if err != nil {
		t.Fatal(err)
	}
	got := srv.only(t)
	// The default is the v1 API: no api-version, the deployment in the body.
	if got.Method != http.MethodPost || got.Path != "/openai/v1/chat/completions" {
		t.Errorf("request = %s %s", got.Method, got.Path)
	}
	if v, ok := got.Query["api-version"]; ok {
		t.Errorf("api-version = %v, want none on the v1 API", v)
	}
	if m := got.Body["model"]; m != "gpt4o-dep" {
		t.Errorf("model = %v, want the deployment gpt4o-dep", m)
	}
	if k := got.Header.Get("Api-Key"); k != "secret-key-1" {
		t.Errorf("api-key header = %q", k)
	}
	if a := got.Header.Get("Authorization"); a != "" {
		t.Errorf("Authorization header = %q, want none with an API key", a)
	}
	wantBody := map[string]any{
		"model": "gpt4o-dep",
		"messages": []any{
			map[string]any{"role": "system", "content": "You are a reporter."},
			map[string]any{"role": "user", "name": "user", "content": "Write about the fair."},
			map[string]any{"role": "assistant", "name": "News_Reporter", "content": "Draft."},
		},
		"max_tokens":      200.0,
		"temperature":     0.5,
		"top_p":           0.9,
		"seed":            42.0,
		"stop":            []any{"END", "STOP"},
		"response_format": map[string]any{"type": "json_object"},
	}
	if diff := cmp.Diff(wantBody, got.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	wantResp := &model.Response{
		ID: "chatcmpl-1", Model: "gpt-4o-2024-11-20", Content: "Hello there.", FinishReason: "stop",
		Usage: model.Usage{PromptTokens: 12, CompletionTokens: 3, CachedPromptTokens: 8, Requests: 1},
	}
	if diff := cmp.Diff(wantResp, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}

func TestClient_Complete_MinimalBodyOmitsUnsetParameters(t *testing.T) {
	srv := newRecorder(t, false, okJSON)
	c, err := New(Config{Endpoint: srv.URL, Deployment: "d", APIKey: "k", APIVersion: "2025-01-01-preview"})
	if err != nil {
		t.Fatal(err)
	}
	req := &model.Request{Model: "other-dep", Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}, Stop: []string{"X"}}
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	got := srv.only(t)
	if got.Path != "/openai/deployments/other-dep/chat/completions" {
		t.Errorf("the request's model must pick the deployment; path = %s", got.Path)
	}
	if v := got.Query.Get("api-version"); v != "2025-01-01-preview" {
		t.Errorf("api-version = %q", v)
	}
	for _, k := range []string{"max_tokens", "temperature", "top_p", "seed", "response_format", "stream", "stream_options"} {
		if _, ok := got.Body[k]; ok {
			t.Errorf("body has %q although it was not set", k)
		}
	}
	if got.Body["stop"] != "X" {
		t.Errorf("single stop = %v, want \"X\"", got.Body["stop"])
	}
	msgs := got.Body["messages"].([]any)
	if _, ok := msgs[0].(map[string]any)["name"]; ok {
		t.Error("name sent although empty")
	}
}

func TestClient_Complete_AzureBearerTokenOverTLS(t *testing.T) {
	srv := newRecorder(t, true, okJSON)
	cred := &fakeCredential{token: "entra-token-abc"}
	c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", Credential: cred, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}); err != nil {
		t.Fatal(err)
	}
	got := srv.only(t)
	if a := got.Header.Get("Authorization"); a != "Bearer entra-token-abc" {
		t.Errorf("Authorization = %q", a)
	}
	if k := got.Header.Get("Api-Key"); k != "" {
		t.Errorf("api-key header = %q, want none with a credential", k)
	}
	if got.Path != "/openai/v1/chat/completions" || got.Query.Has("api-version") || got.Body["model"] != "dep" {
		t.Errorf("request = %s ?%v (model %v), want the v1 API", got.Path, got.Query, got.Body["model"])
	}
	if diff := cmp.Diff([][]string{{Scope}}, cred.scopes); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
}

func TestClient_Complete_AzureBearerTokenOverLoopbackHTTP(t *testing.T) {
	srv := newRecorder(t, false, okJSON)
	c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", Credential: &fakeCredential{token: "tok"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}); err != nil {
		t.Fatalf("plain http to loopback must be allowed for bearer tokens: %v", err)
	}
	if a := srv.only(t).Header.Get("Authorization"); a != "Bearer tok" {
		t.Errorf("Authorization = %q", a)
	}
}

func TestClient_Complete_CredentialFailureIsAModelErrorWithoutRequest(t *testing.T) {
	srv := newRecorder(t, true, okJSON)
	c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", Credential: &fakeCredential{err: errors.New("no identity available")}, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
	var me *model.Error
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "no identity available") {
		t.Fatalf("err = %v, want a *model.Error naming the credential failure", err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Fatalf("server saw %d requests without a token", n)
	}
}

// TestClient_Complete_ManagedIdentityAppService runs the App Service managed
// identity protocol against a loopback identity endpoint.
func TestClient_Complete_ManagedIdentityAppService(t *testing.T) {
	type tokenReq struct {
		Method, Header, Resource, APIVersion, ClientID string
	}
	// MSAL caches managed identity tokens process-wide by identity: a fresh
	// user-assigned client id per run keeps -count=N honest.
	clientID := fmt.Sprintf("client-%d", time.Now().UnixNano())
	var (
		mu     sync.Mutex
		tokens []tokenReq
	)
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens = append(tokens, tokenReq{r.Method, r.Header.Get("X-IDENTITY-HEADER"), r.URL.Query().Get("resource"), r.URL.Query().Get("api-version"), r.URL.Query().Get("client_id")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"mi-token-xyz","expires_on":"%d","resource":"https://cognitiveservices.azure.com","token_type":"Bearer"}`,
			time.Now().Add(time.Hour).Unix())
	}))
	defer idp.Close()
	t.Setenv("IDENTITY_ENDPOINT", idp.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "identity-secret-header")
	for _, k := range []string{"IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_CLIENT_ID"} {
		t.Setenv(k, "")
	}

	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(clientID)})
	if err != nil {
		t.Fatal(err)
	}
	srv := newRecorder(t, true, okJSON)
	c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", Credential: cred, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}); err != nil {
			t.Fatal(err)
		}
	}
	want := []tokenReq{{http.MethodGet, "identity-secret-header", "https://cognitiveservices.azure.com", "2019-08-01", clientID}}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, tokens); diff != "" {
		t.Errorf("token requests (-want +got), the second call must reuse the cached token:\n%s", diff)
	}
	for _, r := range srv.requests() {
		if a := r.Header.Get("Authorization"); a != "Bearer mi-token-xyz" {
			t.Errorf("Authorization = %q", a)
		}
	}
}

func TestClient_Complete_OpenAICompatible(t *testing.T) {
	srv := newRecorder(t, false, okJSON)
	c, err := New(Config{Kind: KindOpenAI, BaseURL: srv.URL + "/v1", Model: "llama3", APIKey: "sk-test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}); err != nil {
		t.Fatal(err)
	}
	got := srv.only(t)
	if got.Path != "/v1/chat/completions" || got.Body["model"] != "llama3" {
		t.Errorf("request = %s model %v", got.Path, got.Body["model"])
	}
	if a := got.Header.Get("Authorization"); a != "Bearer sk-test" {
		t.Errorf("Authorization = %q", a)
	}
	if _, ok := got.Query["api-version"]; ok {
		t.Error("api-version sent to an OpenAI endpoint")
	}
}

func TestClient_Complete_OpenAIWithoutKeySendsNoAuthorization(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "env-key-must-not-leak-in")
	srv := newRecorder(t, false, okJSON)
	c, err := New(Config{Kind: KindOpenAI, BaseURL: srv.URL, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}); err != nil {
		t.Fatal(err)
	}
	if a := srv.only(t).Header.Get("Authorization"); a != "" {
		t.Errorf("Authorization = %q, want none: configuration comes from package config only", a)
	}
}

func TestNew_RejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"plain http to a remote azure host", Config{Endpoint: "http://example.openai.azure.com", Deployment: "d", APIKey: "k"}, ErrInsecureEndpoint},
		{"plain http to a remote openai host", Config{Kind: KindOpenAI, BaseURL: "http://10.0.0.5:8000/v1", Model: "m"}, ErrInsecureEndpoint},
		{"plain http to a lookalike of localhost", Config{Endpoint: "http://localhost.example.com", APIKey: "k"}, ErrInsecureEndpoint},
		{"azure without auth", Config{Endpoint: "https://x.openai.azure.com"}, ErrConfig},
		{"azure without endpoint", Config{Kind: KindAzure, APIKey: "k"}, ErrConfig},
		{"not a URL", Config{Endpoint: "x.openai.azure.com", APIKey: "k"}, ErrConfig},
		{"unknown kind", Config{Kind: "bedrock"}, ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckEndpoint_AllowsLoopbackHTTP(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "http://127.3.4.5", "http://[::1]:9000/", "http://localhost:11434/v1", "https://example.com"} {
		t.Run(u, func(t *testing.T) {
			if _, err := CheckEndpoint(u); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestClient_Complete_NoDeployment(t *testing.T) {
	c, err := New(Config{Endpoint: "https://x.openai.azure.com", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "deployment") {
		t.Fatalf("err = %v", err)
	}
}

func TestClient_Complete_ZeroValuedParametersAreSent(t *testing.T) {
	srv := newRecorder(t, false, okJSON)
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "d", APIKey: "k"})
	req := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "a <b> & c"}},
		Temperature: ptr(0.0), Seed: ptr(int64(0))}
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	got := srv.only(t)
	if got.Body["temperature"] != 0.0 || got.Body["seed"] != 0.0 {
		t.Errorf("temperature %v seed %v, want both sent as 0", got.Body["temperature"], got.Body["seed"])
	}
	if m := got.Body["messages"].([]any)[0].(map[string]any); m["content"] != "a <b> & c" {
		t.Errorf("content = %q", m["content"])
	}
}

func TestClient_Complete_UnsupportedRole(t *testing.T) {
	c, _ := New(Config{Endpoint: "https://x.openai.azure.com", Deployment: "d", APIKey: "k"})
	_, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: "function", Content: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "unsupported message role") {
		t.Fatalf("err = %v", err)
	}
}

func TestClient_Complete_EndpointPathDeploymentEscapeAndHeaders(t *testing.T) {
	srv := newRecorder(t, false, okJSON)
	c, err := New(Config{Endpoint: srv.URL + "/gateway/?ignored=1", Deployment: "my dep", APIKey: "k", APIVersion: "2025-04-01-preview"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}); err != nil {
		t.Fatal(err)
	}
	got := srv.only(t)
	if got.Path != "/gateway/openai/deployments/my dep/chat/completions" {
		t.Errorf("path = %q, want the endpoint's path kept before the deployment route", got.Path)
	}
	if diff := cmp.Diff(url.Values{"api-version": {"2025-04-01-preview"}}, got.Query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if a := got.Header.Get("Accept"); a != "application/json" {
		t.Errorf("Accept = %q", a)
	}
	if got.Body["model"] != "my dep" {
		t.Errorf("body model = %v, want the deployment", got.Body["model"])
	}
}

func TestClient_Embed_OverHTTP(t *testing.T) {
	srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-request-id", "emb-1")
		_, _ = io.WriteString(w, `{"object":"list","data":[{"object":"embedding","index":1,"embedding":[0.5,0.25]},{"object":"embedding","index":0,"embedding":[1,0]}],"usage":{"prompt_tokens":7,"total_tokens":7}}`)
	})
	c, err := New(Config{Kind: KindOpenAI, BaseURL: srv.URL + "/v1/", Model: "text-embedding-3-small", APIKey: "sk-e"})
	if err != nil {
		t.Fatal(err)
	}
	vs, u, err := c.Embed(context.Background(), []string{"a", "b"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]float32{{1, 0}, {0.5, 0.25}}, vs); diff != "" {
		t.Errorf("vectors (-want +got), placed by index:\n%s", diff)
	}
	if u != (model.Usage{PromptTokens: 7, Requests: 1}) {
		t.Errorf("usage = %+v", u)
	}
	got := srv.only(t)
	if got.Path != "/v1/embeddings" || got.Header.Get("Authorization") != "Bearer sk-e" {
		t.Errorf("request = %s, Authorization %q", got.Path, got.Header.Get("Authorization"))
	}
	want := map[string]any{"input": []any{"a", "b"}, "model": "text-embedding-3-small", "dimensions": 2.0, "encoding_format": "float"}
	if diff := cmp.Diff(want, got.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestClient_Complete_UndecodableAnswer(t *testing.T) {
	srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("apim-request-id", "req-9")
		_, _ = io.WriteString(w, `<html>not an answer</html>`)
	})
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	_, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
	var me *model.Error
	if !errors.As(err, &me) || me.StatusCode != 0 || me.RequestID != "req-9" || !strings.Contains(me.Message, "decoding the answer") {
		t.Fatalf("err = %#v, want a *model.Error that says the answer could not be decoded", err)
	}
}
