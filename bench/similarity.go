package bench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/memory"
	"github.com/newsroom-dev/newsroom/model/cache/similar"
	"github.com/newsroom-dev/newsroom/model/cost"
	"github.com/newsroom-dev/newsroom/modelstack"
	"github.com/newsroom-dev/newsroom/team"
)

// embeddingsDeployment is the benchmark's embeddings deployment, priced
// from the built-in price table as the stack prices it.
const embeddingsDeployment = "text-embedding-3-small"

// SimilarityCase is a task, paraphrases of it with the same facts, and
// versions of it with one changed fact.
type SimilarityCase struct {
	Task        string
	Paraphrases []string
	Changed     []string
}

// SimilarityCases are the benchmark's tasks.
var SimilarityCases = []SimilarityCase{
	{Task: Tasks[0],
		Paraphrases: []string{
			"Facts: On Tuesday the city council approved a new bike lane on Main Street. It costs 2.1 million dollars and construction starts in March.",
			"Facts: A new bike lane on Main Street was approved by the city council on Tuesday; construction starts in March and costs 2.1 million dollars.",
			"Facts: The city council approved, on Tuesday, a new bike lane for Main Street. Construction, costing 2.1 million dollars, starts in March.",
		},
		Changed: []string{
			strings.Replace(Tasks[0], "2.1 million", "2.4 million", 1),
			strings.Replace(Tasks[0], "Tuesday", "Thursday", 1),
			strings.Replace(Tasks[0], "Main Street", "Elm Street", 1),
		}},
	{Task: Tasks[1],
		Paraphrases: []string{
			"Facts: From next month the regional library will open on Sundays. The change costs 180,000 dollars a year, the board said, paid by a state grant.",
			"Facts: The board said the regional library will open on Sundays from next month, a change that costs 180,000 dollars a year, paid by a state grant.",
		},
		Changed: []string{
			strings.Replace(Tasks[1], "180,000", "160,000", 1),
			strings.Replace(Tasks[1], "Sundays", "Saturdays", 1),
		}},
	{Task: Tasks[2],
		Paraphrases: []string{
			"Facts: On Friday night a storm cut power to 12,000 homes. Most customers were reconnected by Saturday noon, the utility said.",
			"Facts: The utility said most customers were reconnected by Saturday noon after a storm cut power to 12,000 homes on Friday night.",
		},
		Changed: []string{
			strings.Replace(Tasks[2], "12,000", "21,000", 1),
			strings.Replace(Tasks[2], "Friday", "Sunday", 1),
		}},
	{Task: Tasks[3],
		Paraphrases: []string{
			"Facts: On Saturday the high school robotics team won the state championship. The 14 students of the team built a robot that sorts recycling.",
		},
		Changed: []string{
			strings.Replace(Tasks[3], "14 students", "15 students", 1),
		}},
}

// SimilarityConfig configures the similarity benchmark.
type SimilarityConfig struct {
	// Threshold is the similarity cache's threshold [0.97].
	Threshold float64
	// Dimensions of the embeddings [256].
	Dimensions int
	// Team is desk.RoundRobin (default) or desk.Selector.
	Team string
}

// SimilarityReport is the similarity benchmark's result.
type SimilarityReport struct {
	Benchmark string  `json:"benchmark"`
	Team      string  `json:"team"`
	Threshold float64 `json:"threshold"`
	// ParaphraseCalls and ParaphraseHits count the model calls of the runs
	// on paraphrased tasks and those the similarity cache answered.
	ParaphraseCalls   int     `json:"paraphrase_calls"`
	ParaphraseHits    int     `json:"paraphrase_hits"`
	ParaphraseHitRate float64 `json:"paraphrase_hit_rate"`
	// ChangedFactCalls and ChangedFactHits: the runs on tasks with one
	// changed fact (goal: 0 hits). Refusals are lookups as similar as a
	// hit that the fingerprint turned away.
	ChangedFactCalls     int   `json:"changed_fact_calls"`
	ChangedFactHits      int   `json:"changed_fact_hits"`
	RefusedByFingerprint int64 `json:"refused_by_fingerprint"`
	// EmbeddingTokens and EmbeddingCostUSD are what every lookup cost, as
	// the calls' usage reports it (embedding_tokens, embedding_usd: part of
	// each call's cost); SavedTokens and SavedUSD what the hits did not
	// pay; NetSavedUSD the difference.
	EmbeddingTokens  int64   `json:"embedding_tokens"`
	EmbeddingCostUSD float64 `json:"embedding_cost_usd"`
	SavedTokens      int     `json:"saved_tokens"`
	SavedUSD         float64 `json:"saved_usd"`
	NetSavedUSD      float64 `json:"net_saved_usd"`
	// RunCostUSD is the runs' whole cost (calls and embeddings).
	RunCostUSD float64 `json:"run_cost_usd"`
	GoalMet    bool    `json:"goal_met"`
}

// Similarity runs each case's task, then its paraphrases and its changed
// versions, through a pipeline with the similarity cache over the emulator.
func Similarity(ctx context.Context, cfg SimilarityConfig) (*SimilarityReport, error) {
	teamName, err := checkTeam(cfg.Team)
	if err != nil {
		return nil, err
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = 0.97
	}
	if cfg.Threshold < 0 || cfg.Threshold > 1 {
		return nil, fmt.Errorf("%w: threshold %v is not in (0, 1]", ErrConfig, cfg.Threshold)
	}
	if cfg.Dimensions <= 0 {
		cfg.Dimensions = 256
	}
	em, err := emulator.Start(emulator.Config{APIKey: apiKey, MaxRecorded: -1}, emulator.Options{})
	if err != nil {
		return nil, err
	}
	defer em.Close()
	if !cost.Default().Known(embeddingsDeployment) {
		return nil, fmt.Errorf("bench: no built-in price for %s", embeddingsDeployment)
	}
	var lookupTokens, refused atomic.Int64
	onLookup := func(result string, u model.Usage) {
		lookupTokens.Add(int64(u.PromptTokens))
		if result == similar.ResultRefused {
			refused.Add(1)
		}
	}
	type tally struct{ calls, hits, saved int }
	var cur *tally
	var total model.Usage // every call's usage, as a run's totals add it
	count := func(next model.Client) model.Client {
		return model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
			resp, err := next.Complete(ctx, req)
			if err == nil {
				cur.calls++
				total = total.Add(resp.Usage)
				if resp.Similarity > 0 {
					cur.hits++
					cur.saved += resp.Usage.SavedTokens
				}
			}
			return resp, err
		})
	}
	// The exact and the similarity cache, as the stack builds them from
	// the configuration: one memory store, one namespace (the stack's).
	p, err := newStack(stackConfig{url: em.URL, cache: cache.Config{Store: memory.New(memory.Config{})}, limiterOff: true,
		similarity: cfg.Threshold, similar: modelstack.SimilarOptions{Dimensions: cfg.Dimensions, OnLookup: onLookup}})
	if err != nil {
		return nil, err
	}
	pl := count(p) // outermost: it sees every call as the agent made it
	run := func(task string, t *tally) error {
		cur = t
		tm, err := desk.New(desk.Config{Team: teamName, Client: pl})
		if err != nil {
			return err
		}
		_, err = team.Run(ctx, tm, task)
		return err
	}
	var base, para, changed tally
	for _, c := range SimilarityCases {
		if err := run(c.Task, &base); err != nil {
			return nil, err
		}
	}
	for _, c := range SimilarityCases {
		for _, t := range c.Paraphrases {
			if err := run(t, &para); err != nil {
				return nil, err
			}
		}
		for _, t := range c.Changed {
			if err := run(t, &changed); err != nil {
				return nil, err
			}
		}
	}
	// Every lookup's embedding must show in the calls' usage: a gap would
	// be cost charged to no call.
	if int64(total.EmbeddingTokens) != lookupTokens.Load() {
		return nil, fmt.Errorf("bench: the calls' usage reports %d embedding tokens, the lookups used %d", total.EmbeddingTokens, lookupTokens.Load())
	}
	r := &SimilarityReport{Benchmark: "similarity", Team: teamName, Threshold: cfg.Threshold,
		ParaphraseCalls: para.calls, ParaphraseHits: para.hits, ChangedFactCalls: changed.calls, ChangedFactHits: changed.hits,
		RefusedByFingerprint: refused.Load(), EmbeddingTokens: int64(total.EmbeddingTokens),
		EmbeddingCostUSD: round6(total.EmbeddingUSD), SavedTokens: para.saved + changed.saved,
		SavedUSD: round6(total.SavedUSD), NetSavedUSD: round6(total.SavedUSD - total.EmbeddingUSD), RunCostUSD: round6(total.CostUSD)}
	if para.calls > 0 {
		r.ParaphraseHitRate = round2(float64(para.hits) / float64(para.calls))
	}
	r.GoalMet = r.ChangedFactHits == 0
	return r, nil
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }
