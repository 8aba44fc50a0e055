package modelstack_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/modelstack"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

// TestBuild_InstancesShareTheQuotaThroughRedis: two stacks with the
// deployment's quota of 20 requests a minute and one Redis send 12 calls
// each at once. Together they must stay within the quota: no call reaches
// the service to be refused with 429; the calls beyond it wait.
func TestBuild_InstancesShareTheQuotaThroughRedis(t *testing.T) {
	const rpm = 20
	em := startEmulator(t, emulator.Config{APIKey: "right", Quota: emulator.Quota{RequestsPerMinute: rpm, TokensPerMinute: 10_000_000}})
	redisURL := "redis://" + testsvc.Redis(t) + "/0"
	// The Redis keys are per deployment: a deployment name new on every run.
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	deployment := "gpt-4o-" + hex.EncodeToString(b)

	var throttled, served atomic.Int64
	meter := func(next model.Client) model.Client {
		return model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
			resp, err := next.Complete(ctx, req)
			var me *model.Error
			switch {
			case errors.As(err, &me) && me.StatusCode == http.StatusTooManyRequests:
				throttled.Add(1)
			case err == nil:
				served.Add(1)
			}
			return resp, err
		})
	}
	instance := func() model.Client {
		cfg := &config.Config{RPM: rpm, TPM: 10_000_000, RedisURL: config.Secret(redisURL),
			Model: config.Model{Kind: config.KindAzure, Endpoint: em.URL, Deployment: deployment, Model: "gpt-4o", APIKey: "right"}}
		return mustBuild(t, modelstack.Options{Config: cfg, Bottom: meter, RetryOff: true}).Root()
	}
	a, c := instance(), instance()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 24 {
		cl := a
		if i%2 == 1 {
			cl = c
		}
		wg.Go(func() { _, _ = cl.Complete(ctx, request()) })
	}
	wg.Wait()
	if n := throttled.Load(); n != 0 {
		t.Errorf("%d calls were refused with 429 (served %d); two instances sharing the quota should stay within it", n, served.Load())
	}
	if n := served.Load(); n == 0 || n > rpm {
		t.Errorf("served %d calls, want between 1 and %d", n, rpm)
	}
}
