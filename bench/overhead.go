package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"time"

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

// OverheadReport compares a framework turn with the bare HTTP call.
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
	// RawHTTPUsPerTurn replays the same requests as bare net/http calls
	// straight to the emulator (bodies encoded once, the answer decoded
	// into the few fields a caller needs, or a stream read to [DONE]): the
	// floor any client pays.
	RawHTTPUsPerTurn float64 `json:"raw_http_us_per_turn"`
	// OverheadUsPerTurn is the difference, Ratio framework / raw.
	OverheadUsPerTurn float64 `json:"overhead_us_per_turn"`
	Ratio             float64 `json:"ratio"`
	// Allocations per turn (runtime.MemStats.Mallocs delta / turns). The
	// emulator runs in the process, so its allocations are in both sides.
	FrameworkAllocsPerTurn float64 `json:"framework_allocs_per_turn"`
	RawHTTPAllocsPerTurn   float64 `json:"raw_http_allocs_per_turn"`
	FrameworkBytesPerTurn  float64 `json:"framework_bytes_per_turn"`
	RawHTTPBytesPerTurn    float64 `json:"raw_http_bytes_per_turn"`
	Note                   string  `json:"note"`
}

// Harness runs framework turns and their bare HTTP replay against one
// zero-latency in-process emulator, for Overhead and the Go benchmarks.
type Harness struct {
	em     *emulator.Running
	client model.Client
	team   string
	hc     *http.Client
	// recorded are the requests of one framework run, in order; calls are
	// the same as bare HTTP calls, their bodies encoded once.
	recorded []emulator.RecordedRequest
	calls    []rawCall
}

// rawCall is one bare HTTP replay of a recorded request.
type rawCall struct {
	url    string
	body   []byte
	stream bool
}

// NewHarness starts the emulator and records the requests of one framework
// run of team, for the bare HTTP calls to replay. Close it after use.
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
	h := &Harness{em: em, client: p, team: teamName, hc: hc}
	if _, err := h.FrameworkRun(ctx); err != nil {
		h.Close()
		return nil, err
	}
	h.recorded = em.Requests()
	for _, r := range h.recorded {
		c, err := newRawCall(em.URL, r)
		if err != nil {
			h.Close()
			return nil, err
		}
		h.calls = append(h.calls, c)
	}
	em.Reset()
	return h, nil
}

// rawBody is a chat completions request body with what the recorded
// request carried.
type rawBody struct {
	Model         string        `json:"model"`
	Messages      []rawMessage  `json:"messages"`
	MaxTokens     int           `json:"max_completion_tokens,omitempty"` // the GPT-5 deployment's cap
	Stream        bool          `json:"stream,omitempty"`
	StreamOptions *rawStreamOpt `json:"stream_options,omitempty"`
}

type rawMessage struct {
	Role    model.Role `json:"role"`
	Content string     `json:"content"`
	Name    string     `json:"name,omitempty"`
}

type rawStreamOpt struct {
	IncludeUsage bool `json:"include_usage"`
}

func newRawCall(endpoint string, r emulator.RecordedRequest) (rawCall, error) {
	b := rawBody{Model: Deployment, MaxTokens: r.MaxTokens, Stream: r.Stream}
	if r.Stream {
		b.StreamOptions = &rawStreamOpt{IncludeUsage: r.IncludeUsage}
	}
	for _, m := range r.Messages {
		b.Messages = append(b.Messages, rawMessage{Role: m.Role, Content: m.Content, Name: m.Name})
	}
	body, err := json.Marshal(b)
	if err != nil {
		return rawCall{}, fmt.Errorf("bench: encoding a replayed request: %w", err)
	}
	u := endpoint + "/openai/deployments/" + url.PathEscape(Deployment) + "/chat/completions?api-version=" + provider.DefaultAPIVersion
	return rawCall{url: u, body: body, stream: r.Stream}, nil
}

// rawAnswer is what a caller needs from a non-streamed answer.
type rawAnswer struct {
	Choices []struct {
		FinishReason string `json:"finish_reason"`
		Message      struct {
			Content string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// do sends one bare HTTP call and reads its answer.
func (h *Harness) do(ctx context.Context, c *rawCall) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		return err
	}
	req.Header.Set("api-key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	if c.stream {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if bytes.Equal(sc.Bytes(), []byte("data: [DONE]")) {
				_, err := io.Copy(io.Discard, resp.Body)
				return err
			}
		}
		if sc.Err() != nil {
			return sc.Err()
		}
		return fmt.Errorf("stream ended without [DONE]")
	}
	var a rawAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return err
	}
	if len(a.Choices) == 0 {
		return fmt.Errorf("no choices")
	}
	return nil
}

// Replay returns the emulator's endpoint and API key and the requests of
// the recorded framework run, for benchmarks that replay them with another
// client.
func (h *Harness) Replay() (endpoint, key string, reqs []emulator.RecordedRequest) {
	return h.em.URL, apiKey, slices.Clone(h.recorded)
}

// Close stops the emulator.
func (h *Harness) Close() { h.em.Close() }

// TurnsPerRun is the number of model calls in one run.
func (h *Harness) TurnsPerRun() int { return len(h.calls) }

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

// RawRun sends the recorded run's requests as bare HTTP calls and returns
// how many it sent.
func (h *Harness) RawRun(ctx context.Context) (int, error) {
	for i := range h.calls {
		if err := h.do(ctx, &h.calls[i]); err != nil {
			return i, fmt.Errorf("bench: bare HTTP call: %w", err)
		}
	}
	return len(h.calls), nil
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
// against the bare HTTP call on the same requests.
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
	r.FrameworkUsPerTurn, r.RawHTTPUsPerTurn = median(fwUs), median(rawUs)
	r.FrameworkAllocsPerTurn, r.RawHTTPAllocsPerTurn = fwAllocs, rawAllocs
	r.FrameworkBytesPerTurn, r.RawHTTPBytesPerTurn = fwBytes, rawBytes
	r.OverheadUsPerTurn = round1(r.FrameworkUsPerTurn - r.RawHTTPUsPerTurn)
	if r.RawHTTPUsPerTurn > 0 {
		r.Ratio = round2(r.FrameworkUsPerTurn / r.RawHTTPUsPerTurn)
	}
	r.FrameworkUsPerTurn, r.RawHTTPUsPerTurn = round1(r.FrameworkUsPerTurn), round1(r.RawHTTPUsPerTurn)
	r.FrameworkAllocsPerTurn, r.RawHTTPAllocsPerTurn = round1(r.FrameworkAllocsPerTurn), round1(r.RawHTTPAllocsPerTurn)
	r.FrameworkBytesPerTurn, r.RawHTTPBytesPerTurn = round1(r.FrameworkBytesPerTurn), round1(r.RawHTTPBytesPerTurn)
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
