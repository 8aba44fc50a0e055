package bench

import (
	"context"
	"fmt"
	"slices"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/team"
)

// TokensConfig configures Tokens.
type TokensConfig struct {
	// Teams names the desks to measure; empty means every shipped desk.
	Teams []string
	// Registry resolves the names; nil means the shipped desks.
	Registry *desk.Registry
	// Tasks are the articles to write; nil means Tasks.
	Tasks []string
}

// TokenTally sums the model calls of a desk's runs over the task set.
type TokenTally struct {
	Calls              int `json:"calls"`
	SelectorCalls      int `json:"selector_calls"`
	PromptTokens       int `json:"prompt_tokens"`
	CachedPromptTokens int `json:"cached_prompt_tokens"`
	CompletionTokens   int `json:"completion_tokens"`
	// ReasoningTokens are the GPT-5 deployment's hidden reasoning, part
	// of CompletionTokens and priced as output.
	ReasoningTokens   int     `json:"reasoning_tokens"`
	CostUSD           float64 `json:"cost_usd"`
	CostPerArticleUSD float64 `json:"cost_per_article_usd"`
	Messages          int     `json:"messages"`
}

// TeamTokens compares a desk with its baseline (Spec.Baseline: a selector
// call before every turn, full history everywhere). Ratios are desk ÷ baseline.
type TeamTokens struct {
	Team     string     `json:"team"`
	Tasks    int        `json:"tasks"`
	Desk     TokenTally `json:"desk"`
	Baseline TokenTally `json:"baseline"`
	// Medium is the desk with every agent and the selector at reasoning
	// effort medium instead of the efforts its file ships with;
	// EffortCostRatio is the desk's cost ÷ Medium's (below 1: the shipped
	// efforts are cheaper).
	Medium                TokenTally `json:"all_medium"`
	EffortCostRatio       float64    `json:"effort_cost_ratio"`
	PromptTokensRatio     float64    `json:"prompt_tokens_ratio"`
	CallsRatio            float64    `json:"calls_ratio"`
	CompletionTokensRatio float64    `json:"completion_tokens_ratio"`
	CostRatio             float64    `json:"cost_ratio"`
	// SameStopReason and SameArticle hold when every task ended for the same
	// reason and with the same article (body and headlines) as the baseline.
	SameStopReason bool     `json:"same_stop_reason"`
	SameArticle    bool     `json:"same_article"`
	Differences    []string `json:"differences,omitempty"`
	// GoalPromptTokensRatio and GoalCallsRatio are the desk's goals; Met
	// says whether both hold and the articles are the same.
	GoalPromptTokensRatio float64 `json:"goal_prompt_tokens_ratio"`
	GoalCallsRatio        float64 `json:"goal_calls_ratio"`
	Met                   bool    `json:"met"`
}

// TokensReport is the result of Tokens.
type TokensReport struct {
	Teams []TeamTokens `json:"teams"`
}

// tokenGoals are the goals of issue 10: the selector desk at most 0.6× the
// baseline's prompt tokens and 0.7× its calls; any other desk no worse.
var tokenGoals = map[string][2]float64{desk.Selector: {0.6, 0.7}}

// Tokens runs every task on each desk and on its baseline, each on a fresh
// in-process emulator (so neither warms the other's prompt cache), and
// compares calls, tokens, cost, stop reasons and articles.
func Tokens(ctx context.Context, cfg TokensConfig) (*TokensReport, error) {
	reg := cfg.Registry
	if reg == nil {
		reg = desk.NewRegistry()
	}
	names := cfg.Teams
	if len(names) == 0 {
		names = desk.Teams
	}
	tasks := cfg.Tasks
	if tasks == nil {
		tasks = Tasks
	}
	rep := &TokensReport{}
	for _, name := range names {
		d, ok := reg.Get(name)
		if !ok {
			return nil, fmt.Errorf("%w: unknown team %q (known: %v)", ErrConfig, name, reg.Names())
		}
		tt := TeamTokens{Team: name, Tasks: len(tasks), SameStopReason: true, SameArticle: true}
		goal, ok := tokenGoals[name]
		if !ok {
			goal = [2]float64{1, 1}
		}
		tt.GoalPromptTokensRatio, tt.GoalCallsRatio = goal[0], goal[1]
		for i, task := range tasks {
			got, err := runDesk(ctx, d.Spec, task, "", &tt.Desk)
			if err != nil {
				return nil, fmt.Errorf("%s, task %d: %w", name, i+1, err)
			}
			if _, err := runDesk(ctx, d.Spec, task, "medium", &tt.Medium); err != nil {
				return nil, fmt.Errorf("%s at medium, task %d: %w", name, i+1, err)
			}
			base, err := runDesk(ctx, d.Spec.Baseline(), task, "", &tt.Baseline)
			if err != nil {
				return nil, fmt.Errorf("%s baseline, task %d: %w", name, i+1, err)
			}
			if got.StopReason != base.StopReason {
				tt.SameStopReason = false
				tt.Differences = append(tt.Differences, fmt.Sprintf("task %d: stop %q, baseline %q", i+1, got.StopReason, base.StopReason))
			}
			a, b := d.Spec.ArticleOf(got.Messages), d.Spec.ArticleOf(base.Messages)
			if a.Body != b.Body || !slices.Equal(a.Headlines, b.Headlines) {
				tt.SameArticle = false
				tt.Differences = append(tt.Differences, fmt.Sprintf("task %d: the article differs from the baseline's", i+1))
			}
		}
		if tt.Medium.CostUSD > 0 {
			tt.EffortCostRatio = round3(tt.Desk.CostUSD / tt.Medium.CostUSD)
		}
		for _, t := range []*TokenTally{&tt.Desk, &tt.Baseline, &tt.Medium} {
			t.CostPerArticleUSD = t.CostUSD / float64(len(tasks))
		}
		tt.PromptTokensRatio = ratio(tt.Desk.PromptTokens, tt.Baseline.PromptTokens)
		tt.CallsRatio = ratio(tt.Desk.Calls, tt.Baseline.Calls)
		tt.CompletionTokensRatio = ratio(tt.Desk.CompletionTokens, tt.Baseline.CompletionTokens)
		if tt.Baseline.CostUSD > 0 {
			tt.CostRatio = round3(tt.Desk.CostUSD / tt.Baseline.CostUSD)
		}
		tt.Met = tt.SameStopReason && tt.SameArticle && tt.PromptTokensRatio <= goal[0] && tt.CallsRatio <= goal[1]
		rep.Teams = append(rep.Teams, tt)
	}
	return rep, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return round3(float64(a) / float64(b))
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// runDesk runs one task on a fresh emulator (a GPT-5 deployment) through
// the production pipeline (no response cache: every call is paid for), at
// effort for every agent ("" the file's own), and adds its usage to t.
func runDesk(ctx context.Context, s *desk.Spec, task, effort string, t *TokenTally) (*team.Result, error) {
	em, err := emulator.Start(emulator.Config{APIKey: apiKey, MaxRecorded: -1}, emulator.Options{})
	if err != nil {
		return nil, err
	}
	defer em.Close()
	p, err := newStack(stackConfig{url: em.URL, quota: ratelimit.LimiterConfig{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 30}})
	if err != nil {
		return nil, err
	}
	tm, err := desk.New(desk.Config{Spec: s, Client: p, Model: Deployment, ReasoningEffort: effort})
	if err != nil {
		return nil, err
	}
	res, err := team.Run(ctx, tm, task)
	if err != nil {
		return nil, err
	}
	u := res.Usage
	t.Calls += u.Requests
	t.SelectorCalls += res.PerAgent[team.SelectorSource].Requests
	t.PromptTokens += u.PromptTokens
	t.CachedPromptTokens += u.CachedPromptTokens
	t.CompletionTokens += u.CompletionTokens
	t.ReasoningTokens += u.ReasoningTokens
	t.CostUSD += u.CostUSD
	t.Messages += len(res.Messages)
	return res, nil
}
