package bench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/httpx"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/team"
)

// OverheadConfig configures the overhead benchmark.
type OverheadConfig struct {
	// Turns is how many agent turns (model calls) to time on each side; 0
	// means 2000.
	Turns int
	// Team is desk.RoundRobin (default) or desk.Selector.
	Team string
}

// OverheadReport compares a framework turn with the raw SDK call.
type OverheadReport struct {
	Benchmark string `json:"benchmark"`
	Team      string `json:"team"`
	Turns     int    `json:"turns"`
	// TurnsPerRun is the model calls of one run (selector calls included).
	TurnsPerRun int `json:"turns_per_run"`
	// FrameworkUsPerTurn is a whole team run through the full pipeline
	// (budget, cost, cache off, retry, limiter with a quota it never
	// reaches, provider) divided by its model calls.
	FrameworkUsPerTurn float64 `json:"framework_us_per_turn"`
	// RawSDKUsPerTurn replays the same requests with openai-go's Azure
	// client straight to the emulator.
	RawSDKUsPerTurn float64 `json:"raw_sdk_us_per_turn"`
	// OverheadUsPerTurn is the difference, Ratio framework / raw.
	OverheadUsPerTurn float64 `json:"overhead_us_per_turn"`
	Ratio             float64 `json:"ratio"`
	// Allocations per turn (runtime.MemStats.Mallocs delta / turns). The
	// emulator runs in the process, so its allocations are in both sides.
	FrameworkAllocsPerTurn float64 `json:"framework_allocs_per_turn"`
	RawSDKAllocsPerTurn    float64 `json:"raw_sdk_allocs_per_turn"`
	FrameworkBytesPerTurn  float64 `json:"framework_bytes_per_turn"`
	RawSDKBytesPerTurn     float64 `json:"raw_sdk_bytes_per_turn"`
	Note                   string  `json:"note"`
}

// Harness runs framework turns and raw SDK calls against one zero-latency
// in-process emulator, for Overhead and the Go benchmarks.
type Harness struct {
	em     *emulator.Running
	client model.Client
	team   string
	svc    openai.ChatCompletionService
	// params are the requests of one framework run, in order, as the raw
	// SDK's parameters.
	params []openai.ChatCompletionNewParams
}

// NewHarness starts the emulator and records the requests of one framework
// run of team, for the raw SDK to replay. Close it after use.
func NewHarness(ctx context.Context, teamName string) (*Harness, error) {
	teamName, err := checkTeam(teamName)
	if err != nil {
		return nil, err
	}
	em, err := emulator.Start(emulator.Config{APIKey: apiKey, MaxRecorded: 1000}, emulator.Options{})
	if err != nil {
		return nil, err
	}
	hc := httpx.NewClient(httpx.Options{})
	p, err := newStack(stackConfig{url: em.URL, httpClient: hc,
		quota: ratelimit.LimiterConfig{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 30}})
	if err != nil {
		em.Close()
		return nil, err
	}
	h := &Harness{em: em, client: p.Client, team: teamName}
	h.svc = openai.NewChatCompletionService(option.WithHTTPClient(hc), option.WithMaxRetries(0),
		azure.WithEndpoint(em.URL, provider.DefaultAPIVersion), azure.WithAPIKey(apiKey), azure.WithUnsafeAllowHTTP())
	if _, err := h.FrameworkRun(ctx); err != nil {
		h.Close()
		return nil, err
	}
	for _, r := range em.Requests() {
		h.params = append(h.params, sdkParams(r))
	}
	em.Reset()
	return h, nil
}

func sdkParams(r emulator.RecordedRequest) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{Model: Deployment}
	for _, m := range r.Messages {
		var u openai.ChatCompletionMessageParamUnion
		switch m.Role {
		case model.RoleSystem:
			s := &openai.ChatCompletionSystemMessageParam{}
			s.Content.OfString = openai.String(m.Content)
			if m.Name != "" {
				s.Name = openai.String(m.Name)
			}
			u.OfSystem = s
		case model.RoleAssistant:
			s := &openai.ChatCompletionAssistantMessageParam{}
			s.Content.OfString = openai.String(m.Content)
			if m.Name != "" {
				s.Name = openai.String(m.Name)
			}
			u.OfAssistant = s
		default:
			s := &openai.ChatCompletionUserMessageParam{}
			s.Content.OfString = openai.String(m.Content)
			if m.Name != "" {
				s.Name = openai.String(m.Name)
			}
			u.OfUser = s
		}
		p.Messages = append(p.Messages, u)
	}
	if r.MaxTokens > 0 {
		p.MaxTokens = openai.Int(int64(r.MaxTokens))
	}
	return p
}

// Close stops the emulator.
func (h *Harness) Close() { h.em.Close() }

// TurnsPerRun is the number of model calls in one run.
func (h *Harness) TurnsPerRun() int { return len(h.params) }

// FrameworkRun runs the team once on the first task through the pipeline
// and returns its model calls.
func (h *Harness) FrameworkRun(ctx context.Context) (int, error) {
	tm, err := desk.New(desk.Config{Team: h.team, Client: h.client})
	if err != nil {
		return 0, err
	}
	res, err := team.Run(ctx, tm, Tasks[0])
	if err != nil {
		return 0, fmt.Errorf("bench: framework run: %w", err)
	}
	return res.Usage.Requests, nil
}

// RawRun sends the recorded run's requests with the raw SDK and returns how
// many it sent.
func (h *Harness) RawRun(ctx context.Context) (int, error) {
	for i := range h.params {
		cc, err := h.svc.New(ctx, h.params[i])
		if err != nil {
			return i, fmt.Errorf("bench: raw SDK call: %w", err)
		}
		if len(cc.Choices) == 0 {
			return i, fmt.Errorf("bench: raw SDK call: no choices")
		}
	}
	return len(h.params), nil
}

// timeTurns runs f until at least turns turns are done and returns the time
// and allocations per turn.
func timeTurns(ctx context.Context, turns int, f func(context.Context) (int, error)) (us, allocs, bytes float64, err error) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	done := 0
	for done < turns {
		n, err := f(ctx)
		if err != nil {
			return 0, 0, 0, err
		}
		done += n
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	d := float64(done)
	return float64(elapsed.Nanoseconds()) / 1000 / d, float64(after.Mallocs-before.Mallocs) / d,
		float64(after.TotalAlloc-before.TotalAlloc) / d, nil
}

// Overhead measures the framework's time and allocations per agent turn
// against the raw SDK call on the same requests.
func Overhead(ctx context.Context, cfg OverheadConfig) (*OverheadReport, error) {
	if cfg.Turns < 0 {
		return nil, fmt.Errorf("%w: turns must not be negative", ErrConfig)
	}
	if cfg.Turns == 0 {
		cfg.Turns = 2000
	}
	h, err := NewHarness(ctx, cfg.Team)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	// Warm both paths (connections, tokenizer caches) before timing.
	for range 3 {
		if _, err := h.FrameworkRun(ctx); err != nil {
			return nil, err
		}
		if _, err := h.RawRun(ctx); err != nil {
			return nil, err
		}
	}
	r := &OverheadReport{Benchmark: "overhead", Team: h.team, Turns: cfg.Turns, TurnsPerRun: h.TurnsPerRun(),
		Note: "zero-latency in-process emulator; cache off, limiter on with an unreachable quota; times are the median of alternating blocks; allocations include the emulator's, in both columns"}
	// Alternate blocks of each side so the noise of a shared machine falls
	// on both alike, and take each side's median block.
	const blocks = 10
	per := max(cfg.Turns/blocks, 1)
	var fwUs, rawUs []float64
	var fwAllocs, rawAllocs, fwBytes, rawBytes float64
	for range blocks {
		us, a, b, err := timeTurns(ctx, per, h.FrameworkRun)
		if err != nil {
			return nil, err
		}
		fwUs, fwAllocs, fwBytes = append(fwUs, us), fwAllocs+a/blocks, fwBytes+b/blocks
		if us, a, b, err = timeTurns(ctx, per, h.RawRun); err != nil {
			return nil, err
		}
		rawUs, rawAllocs, rawBytes = append(rawUs, us), rawAllocs+a/blocks, rawBytes+b/blocks
	}
	r.FrameworkUsPerTurn, r.RawSDKUsPerTurn = median(fwUs), median(rawUs)
	r.FrameworkAllocsPerTurn, r.RawSDKAllocsPerTurn = fwAllocs, rawAllocs
	r.FrameworkBytesPerTurn, r.RawSDKBytesPerTurn = fwBytes, rawBytes
	r.OverheadUsPerTurn = round1(r.FrameworkUsPerTurn - r.RawSDKUsPerTurn)
	if r.RawSDKUsPerTurn > 0 {
		r.Ratio = round2(r.FrameworkUsPerTurn / r.RawSDKUsPerTurn)
	}
	r.FrameworkUsPerTurn, r.RawSDKUsPerTurn = round1(r.FrameworkUsPerTurn), round1(r.RawSDKUsPerTurn)
	r.FrameworkAllocsPerTurn, r.RawSDKAllocsPerTurn = round1(r.FrameworkAllocsPerTurn), round1(r.RawSDKAllocsPerTurn)
	r.FrameworkBytesPerTurn, r.RawSDKBytesPerTurn = round1(r.FrameworkBytesPerTurn), round1(r.RawSDKBytesPerTurn)
	return r, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
