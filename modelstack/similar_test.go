package modelstack_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest/similartest"
	"github.com/newsroom-dev/newsroom/internal/syncbuf"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache/similar"
	"github.com/newsroom-dev/newsroom/modelstack"
	"github.com/newsroom-dev/newsroom/telemetry"
)

func reporterRequest(task string) *model.Request {
	return &model.Request{MaxTokens: 300, Meta: model.Meta{Agent: "News_Reporter", Purpose: model.PurposeReply},
		Messages: []model.Message{{Role: model.RoleSystem, Content: "You are a news reporter."}, {Role: model.RoleUser, Content: task}}}
}

const similarKey = "similar-test-key-7f3a"

func similarConfig(endpoint string) *config.Config {
	cfg := &config.Config{RPM: 600, TPM: 600_000, Cache: config.CacheMemory, CacheSimilarity: 0.9,
		EmbeddingsDeployment: "text-embedding-3-small",
		Model:                config.Model{Kind: config.KindAzure, Endpoint: endpoint, Deployment: "gpt-4o", DeploymentModel: emulator.DefaultModelName, APIKey: similarKey}}
	return cfg
}

// TestBuild_SimilarCacheMetrics reads the similarity cache's metrics with an
// OpenTelemetry SDK ManualReader: lookups by result, and the embedding
// tokens the lookups cost.
func TestBuild_SimilarCacheMetrics(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Config{APIKey: similarKey})
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{MetricReader: reader, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	s := mustBuild(t, modelstack.Options{Config: similarConfig(em.URL), Telemetry: tel, RetryOff: true})
	var embedded int
	for _, task := range []string{similartest.Task, similartest.Paraphrase, similartest.Changed} {
		resp, err := s.Root().Complete(context.Background(), reporterRequest(task))
		if err != nil {
			t.Fatal(err)
		}
		embedded += resp.Usage.EmbeddingTokens
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	lookups := map[string]int64{}
	var tokens int64
	found := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			switch {
			case m.Name == telemetry.MetricSimilarLookups && ok:
				found++
				for _, dp := range sum.DataPoints {
					v, _ := dp.Attributes.Value(attribute.Key(telemetry.AttrCacheResult))
					lookups[v.AsString()] += dp.Value
				}
			case m.Name == telemetry.MetricSimilarEmbeddingTokens && ok:
				found++
				for _, dp := range sum.DataPoints {
					tokens += dp.Value
				}
			}
		}
	}
	if found != 2 {
		t.Fatalf("found %d of the 2 similarity metrics (%s, %s) as int64 sums", found, telemetry.MetricSimilarLookups, telemetry.MetricSimilarEmbeddingTokens)
	}
	want := map[string]int64{similar.ResultMiss: 1, similar.ResultHit: 1, similar.ResultRefused: 1}
	if len(lookups) != len(want) || lookups[similar.ResultMiss] != 1 || lookups[similar.ResultHit] != 1 || lookups[similar.ResultRefused] != 1 {
		t.Errorf("lookups by result %v, want %v", lookups, want)
	}
	if tokens == 0 || tokens != int64(embedded) {
		t.Errorf("embedding tokens %d, the calls' usage says %d", tokens, embedded)
	}
}

// TestBuild_FailingEmbeddingsNeverFailTheCall: only the embeddings
// deployment fails (a proxy asks the real emulator for a 503 on the
// embeddings route alone); every chat call is answered, and the log says
// once that the similarity cache steps aside.
func TestBuild_FailingEmbeddingsNeverFailTheCall(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Config{APIKey: similarKey})
	target, _ := url.Parse(em.URL)
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		if strings.HasSuffix(r.Out.URL.Path, "/embeddings") {
			r.Out.Header.Set(emulator.HeaderFault, string(emulator.Fault503))
		}
	}}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)

	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := mustBuild(t, modelstack.Options{Config: similarConfig(front.URL), Logger: log, RetryOff: true})
	for i, task := range []string{similartest.Task, similartest.Paraphrase, similartest.Changed} {
		resp, err := s.Root().Complete(context.Background(), reporterRequest(task))
		if err != nil || resp.Content == "" || resp.Cached {
			t.Fatalf("call %d with the embeddings down: %v, cached %v; want a live answer", i, err, resp != nil && resp.Cached)
		}
	}
	chats, embeds := 0, 0
	for _, r := range em.Requests() {
		switch {
		case strings.HasSuffix(r.Path, "/chat/completions"):
			chats++
		case strings.HasSuffix(r.Path, "/embeddings"):
			embeds++
		}
	}
	if chats != 3 || embeds == 0 {
		t.Errorf("%d chat and %d embeddings requests reached the emulator, want 3 and at least 1", chats, embeds)
	}
	if n := strings.Count(logs.String(), "the similarity cache steps aside"); n != 1 {
		t.Errorf("the log says %d times that the cache steps aside, want once:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), similarKey) {
		t.Errorf("the log shows the API key:\n%s", logs.String())
	}
}
