package modelstack

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"go.opentelemetry.io/otel/metric"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/similar"
	similarpostgres "github.com/newsroom-dev/newsroom/model/cache/similar/postgres"
	similarredis "github.com/newsroom-dev/newsroom/model/cache/similar/redis"
	similarsqlite "github.com/newsroom-dev/newsroom/model/cache/similar/sqlite"
	"github.com/newsroom-dev/newsroom/model/cost"
	"github.com/newsroom-dev/newsroom/model/pool"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/telemetry"
)

// EmbeddingDimensions is the length of the similarity cache's vectors
// (text-embedding-3-small answers any length up to 1536; 256 keeps the
// index small and is plenty to tell paraphrases from other texts).
const EmbeddingDimensions = 256

// embeddingsConfig is where the embeddings deployment is: on the chat
// deployment's endpoint with its credential, or a pool's first member's.
func embeddingsConfig(pc provider.Config, p *pool.Built, hc *http.Client) provider.Config {
	if p == nil {
		return pc
	}
	d := p.File.Deployments[0]
	ec := provider.Config{Kind: provider.KindAzure, Endpoint: d.Endpoint, APIVersion: d.APIVersion, APIKey: d.APIKey, HTTPClient: hc}
	if d.APIKey == "" {
		ec.Credential, _ = provider.DefaultCredential(nil)
	}
	return ec
}

// SimilarOptions adjust the configured similarity cache for a benchmark; the
// zero value is the production cache.
type SimilarOptions struct {
	// Dimensions is the embeddings' length; 0 means EmbeddingDimensions.
	Dimensions int
	// OnLookup, when set, is told each lookup's result (similar.Result*) and
	// its embedding usage, besides the metrics.
	OnLookup func(result string, u model.Usage)
}

// similarCache builds the similarity cache beside the exact cache's store,
// or returns nil when it is off (no cache-similarity).
func (s *Stack) similarCache(ctx context.Context, cfg *config.Config, so SimilarOptions, store cache.Store, pc provider.Config, namespace string,
	prices *cost.Table, log *slog.Logger, tel *telemetry.Provider) (model.Middleware, error) {
	if cfg.CacheSimilarity <= 0 || store == nil {
		return nil, nil
	}
	var index similar.Index
	switch cfg.Cache {
	case config.CacheMemory:
		index = similar.NewMemoryIndex(0)
	case config.CacheSQLite:
		path := cfg.CachePath
		if path == "" {
			dir, err := os.UserCacheDir()
			if err != nil {
				dir = os.TempDir()
			}
			path = filepath.Join(dir, "newsroom", "responses.db")
		}
		x, err := similarsqlite.Open(ctx, path, 0)
		if err != nil {
			return nil, fmt.Errorf("%w: similarity index %s: %w", ErrConfig, path, err)
		}
		s.closers = append(s.closers, func() { _ = x.Close() })
		index = x
	case config.CacheRedis:
		rdb, err := s.redisClient(cfg)
		if err != nil || rdb == nil {
			return nil, err
		}
		index = similarredis.New(rdb, "", 0)
	case config.CachePostgres:
		pool, err := s.postgresPool(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if index, err = similarpostgres.New(ctx, pool, 0); err != nil {
			return nil, fmt.Errorf("%w: similarity index: %w", ErrConfig, err)
		}
	default:
		return nil, nil
	}
	pc.Deployment, pc.OnRateLimitHeaders = cfg.EmbeddingsDeployment, nil
	if pc.Kind == provider.KindOpenAI {
		pc.Model = cfg.EmbeddingsDeployment
	}
	emb, err := provider.New(pc)
	if err != nil {
		return nil, fmt.Errorf("%w: embeddings deployment: %w", ErrConfig, err)
	}
	var unpriced sync.Once
	lookups, _ := tel.Meter().Int64Counter(telemetry.MetricSimilarLookups,
		metric.WithDescription("similarity cache lookups by result: hit, miss, refused_fingerprint"))
	tokens, _ := tel.Meter().Int64Counter(telemetry.MetricSimilarEmbeddingTokens, metric.WithUnit("{token}"),
		metric.WithDescription("tokens sent to the embeddings deployment"))
	dims := so.Dimensions
	if dims <= 0 {
		dims = EmbeddingDimensions
	}
	return similar.New(similar.Config{Store: store, Index: index, Embedder: emb, Threshold: cfg.CacheSimilarity,
		Dimensions: dims, Namespace: namespace,
		OnLookup: func(result string, u model.Usage) {
			lookups.Add(context.Background(), 1, metric.WithAttributes(telemetry.AttrCacheResult.String(result)))
			tokens.Add(context.Background(), int64(u.PromptTokens))
			if so.OnLookup != nil {
				so.OnLookup(result, u)
			}
		},
		OnStepAside: func(err error) {
			log.Warn("the embeddings deployment failed: the similarity cache steps aside for this process",
				"deployment", cfg.EmbeddingsDeployment, "error", err)
		},
		OnError: func(op string, err error) { log.Warn("similarity cache "+op+" failed", "error", err) },
		PriceEmbedding: func(u model.Usage) float64 {
			usd, ok := prices.Cost(cfg.EmbeddingsDeployment, u)
			if !ok {
				unpriced.Do(func() {
					log.Warn("no price for the embeddings deployment: its tokens are counted as $0; add it with --prices-file",
						"deployment", cfg.EmbeddingsDeployment)
				})
			}
			return usd
		},
		// The budget middleware sits below the similarity cache: charge
		// the run's budget and the day's here.
		OnEmbeddingCost: func(ctx context.Context, u model.Usage) {
			if tr := budget.TrackerFrom(ctx); tr != nil {
				tr.Add(model.Usage{CostUSD: u.EmbeddingUSD})
			}
			if s.Daily != nil && u.EmbeddingUSD > 0 {
				s.Daily.Add(u.EmbeddingUSD)
			}
		},
	}), nil
}
