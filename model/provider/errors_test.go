package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/newsroom-dev/newsroom/model"
)

var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestClient_Complete_MapsErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		headers map[string]string
		body    string
		want    model.Error
	}{
		{
			name:    "429 with retry-after-ms",
			status:  429,
			headers: map[string]string{"retry-after-ms": "2500", "Retry-After": "9", "apim-request-id": "apim-1"},
			body:    `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded rate limit."}}`,
			want:    model.Error{StatusCode: 429, Code: "429", Message: "Requests to the ChatCompletions_Create Operation have exceeded rate limit.", RequestID: "apim-1", RetryAfter: 2500 * time.Millisecond},
		},
		{
			name:    "429 with x-ms-retry-after-ms",
			status:  429,
			headers: map[string]string{"x-ms-retry-after-ms": "750", "x-request-id": "xr-1"},
			body:    `{"error":{"code":"429","message":"slow down"}}`,
			want:    model.Error{StatusCode: 429, Code: "429", Message: "slow down", RequestID: "xr-1", RetryAfter: 750 * time.Millisecond},
		},
		{
			name:    "503 with Retry-After seconds",
			status:  503,
			headers: map[string]string{"Retry-After": "3"},
			body:    `{"error":{"code":"ServiceUnavailable","message":"busy"}}`,
			want:    model.Error{StatusCode: 503, Code: "ServiceUnavailable", Message: "busy", RetryAfter: 3 * time.Second},
		},
		{
			name:    "429 with Retry-After HTTP date",
			status:  429,
			headers: map[string]string{"Retry-After": fixedNow.Add(7 * time.Second).Format(http.TimeFormat)},
			body:    `{"error":{"code":"rate_limit_exceeded","message":"slow"}}`,
			want:    model.Error{StatusCode: 429, Code: "rate_limit_exceeded", Message: "slow", RetryAfter: 7 * time.Second},
		},
		{
			name:   "content filter names the categories",
			status: 400,
			body: `{"error":{"code":"content_filter","message":"The response was filtered.","param":"prompt","status":400,
				"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{
				"hate":{"filtered":true,"severity":"medium"},"sexual":{"filtered":false,"severity":"safe"},
				"violence":{"filtered":true,"severity":"high"}}}}}`,
			want: model.Error{StatusCode: 400, Code: "content_filter", Message: "The response was filtered. [content filter: hate, violence]", Param: "prompt"},
		},
		{
			name:   "context length exceeded",
			status: 400,
			body:   `{"error":{"code":"context_length_exceeded","message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error"}}`,
			want:   model.Error{StatusCode: 400, Code: "context_length_exceeded", Message: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."},
		},
		{
			name:   "numeric code",
			status: 401,
			body:   `{"error":{"code":401,"message":"Access denied due to invalid subscription key or wrong API endpoint."}}`,
			want:   model.Error{StatusCode: 401, Code: "401", Message: "Access denied due to invalid subscription key or wrong API endpoint."},
		},
		{
			name:   "body that is not JSON",
			status: 502,
			body:   `<html>Bad Gateway</html>`,
			want:   model.Error{StatusCode: 502, Message: "Bad Gateway"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k", Now: func() time.Time { return fixedNow }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
			var me *model.Error
			if !errors.As(err, &me) {
				t.Fatalf("err = %v (%T), want *model.Error", err, err)
			}
			if diff := cmp.Diff(tc.want, *me, cmpopts.IgnoreFields(model.Error{}, "Err")); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    time.Duration
	}{
		{"none", nil, 0},
		{"retry-after-ms wins", map[string]string{"retry-after-ms": "100", "x-ms-retry-after-ms": "200", "Retry-After": "3"}, 100 * time.Millisecond},
		{"fractional ms", map[string]string{"retry-after-ms": "1.5"}, 1500 * time.Microsecond},
		{"x-ms-retry-after-ms next", map[string]string{"x-ms-retry-after-ms": "200", "Retry-After": "3"}, 200 * time.Millisecond},
		{"seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{"http date", map[string]string{"Retry-After": fixedNow.Add(time.Minute).Format(http.TimeFormat)}, time.Minute},
		{"http date in the past", map[string]string{"Retry-After": fixedNow.Add(-time.Minute).Format(http.TimeFormat)}, 0},
		{"garbage", map[string]string{"Retry-After": "soon", "retry-after-ms": "x"}, 0},
		{"negative", map[string]string{"Retry-After": "-4"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			if got := RetryAfter(h, fixedNow); got != tc.want {
				t.Errorf("RetryAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClient_Complete_PipelineRetriesDisabled(t *testing.T) {
	for _, status := range []int{429, 500, 503} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			var n atomic.Int32
			srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) {
				n.Add(1)
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, `{"error":{"code":"x","message":"fail"}}`)
			})
			c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
			_, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
			if err == nil {
				t.Fatal("want an error")
			}
			if got := n.Load(); got != 1 {
				t.Fatalf("server saw %d requests, want 1: retries belong to the retry middleware", got)
			}
		})
	}
}

func TestClient_Complete_TransportError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	c, _ := New(Config{Endpoint: "http://" + addr, Deployment: "dep", APIKey: "k"})
	_, err = c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
	var me *model.Error
	if !errors.As(err, &me) || me.StatusCode != 0 || me.Err == nil {
		t.Fatalf("err = %#v, want a *model.Error with status 0 and a cause", err)
	}
}

func TestClient_Complete_ErrorsNeverContainTheKey(t *testing.T) {
	const key = "sk-super-secret-0123456789"
	srv := newRecorder(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		// A server that echoes the key it received.
		_, _ = io.WriteString(w, `{"error":{"code":"invalid_api_key","message":"Incorrect API key provided: `+r.Header.Get("Api-Key")+`."}}`)
	})
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: key})
	_, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err)} {
		if strings.Contains(s, key) {
			t.Fatalf("error contains the key: %s", s)
		}
	}
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error %q lost the server's message", err)
	}
}

func TestClient_Complete_RateLimitHeadersHook(t *testing.T) {
	type call struct {
		dep      string
		req, tok int
	}
	var calls []call
	srv := newRecorder(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-remaining-requests", "179")
		if r.URL.Path != "/openai/deployments/no-tokens/chat/completions" {
			w.Header().Set("x-ratelimit-remaining-tokens", "29000")
		}
		okJSON(w, r)
	})
	// A dated api-version: the deployment is in the path.
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k", APIVersion: "2024-10-21",
		OnRateLimitHeaders: func(d string, rq, tk int) { calls = append(calls, call{d, rq, tk}) }})
	for _, m := range []string{"", "no-tokens"} {
		if _, err := c.Complete(context.Background(), &model.Request{Model: m, Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}); err != nil {
			t.Fatal(err)
		}
	}
	want := []call{{"dep", 179, 29000}, {"no-tokens", 179, -1}}
	if diff := cmp.Diff(want, calls, cmp.AllowUnexported(call{})); diff != "" {
		t.Errorf("hook calls (-want +got):\n%s", diff)
	}
}
