package eval

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/termination"
)

// Variant is one way of running a case: a desk (shipped, or a team
// file's), a deployment and a reasoning effort. Empty fields are the
// defaults of the model stack.
type Variant struct {
	Desk            string `json:"desk"`
	TeamFile        string `json:"team_file,omitempty"`
	Deployment      string `json:"deployment,omitempty"`
	ReasoningEffort string `json:"reasoning_effort,omitempty"`
}

// Name is the variant's name in results: desk[@deployment][+effort].
func (v Variant) Name() string {
	n := v.Desk
	if v.Deployment != "" {
		n += "@" + v.Deployment
	}
	if v.ReasoningEffort != "" {
		n += "+" + v.ReasoningEffort
	}
	return n
}

// Output is what one run of a case gave: its article, the documents it
// read and what it spent.
type Output struct {
	Article    Article
	Sources    []Source
	StopReason string
	// Approved is true when the desk's editor approved the article (its
	// last message ends with APPROVE), whatever ended the run after that.
	Approved bool
	// Grounded is true when the run's last grounding check left no
	// unsupported claim (or there was nothing to check against).
	Grounded         bool
	Messages         int
	Calls            int
	PromptTokens     int
	CompletionTokens int
	ReasoningTokens  int
	CostUSD          float64
	Wall             time.Duration
	// TTFT is the time to the run's first streamed token; 0 when unknown.
	TTFT time.Duration
	// Err is the run's failure, if it failed.
	Err error
}

// Runner runs a case on a variant. A run that fails returns an Output
// with Err set (what it wrote is still measured); the error return is for
// a run that could not start or was interrupted (it is not recorded, so
// --resume runs it again).
type Runner interface {
	Run(ctx context.Context, v Variant, c *Case) (Output, error)
}

// Result is one run of one case on one variant, measured.
type Result struct {
	Case    string             `json:"case"`
	Variant string             `json:"variant"`
	Repeat  int                `json:"repeat"`
	Metrics map[string]float64 `json:"metrics"`
	// Checks are the checks behind the metrics; Failed counts those that failed.
	Checks []Check `json:"checks"`
	Failed int     `json:"failed"`
	// Outcome is the case's expected outcome and OutcomeOK whether the run had it.
	Outcome    string  `json:"outcome"`
	OutcomeOK  bool    `json:"outcome_ok"`
	StopReason string  `json:"stop_reason"`
	Error      string  `json:"error,omitempty"`
	Article    Article `json:"article"`
	// Judge holds the judge's rubric scores, when a judge ran; never
	// part of Metrics.
	Judge *JudgeScores `json:"judge,omitempty"`
}

// Key identifies a result: variant, case and repeat.
func (r Result) Key() string { return r.Variant + "\x00" + r.Case + "\x00" + strconv.Itoa(r.Repeat) }

// approved reports whether a stop reason is an approval: the editor's
// APPROVE verdict or a person's.
func approved(stop string) bool {
	k := termination.KindOf(stop)
	return k == termination.KindApproved || (k == termination.KindVerdict && strings.HasPrefix(stop, "verdict APPROVE"))
}

// Score measures one run of a case.
func Score(c *Case, v Variant, repeat int, o Output) Result {
	m, checks := Measure(o.Article, Material{Task: c.Task, Sources: o.Sources}, c.Expect)
	ok := o.Approved || approved(o.StopReason)
	m[Approved] = float64(b2i(ok))
	for k, x := range map[string]float64{Messages: float64(o.Messages), Calls: float64(o.Calls),
		PromptTokens: float64(o.PromptTokens), CompletionTokens: float64(o.CompletionTokens),
		ReasoningTokens: float64(o.ReasoningTokens), CostUSD: o.CostUSD, WallMS: float64(o.Wall.Milliseconds())} {
		m[k] = x
	}
	if o.TTFT > 0 {
		m[TTFTMS] = float64(o.TTFT.Milliseconds())
	}
	r := Result{Case: c.Name, Variant: v.Name(), Repeat: repeat, Metrics: m, Checks: checks,
		Outcome: cmp.Or(c.Expect.Outcome, OutcomeAny), StopReason: o.StopReason, Article: o.Article}
	switch r.Outcome {
	case OutcomeApproved:
		r.OutcomeOK = ok
	case OutcomeGrounded:
		r.OutcomeOK = o.Grounded
	default:
		r.OutcomeOK = true
	}
	if o.Err != nil {
		r.Error = o.Err.Error()
	}
	for _, ch := range checks {
		if !ch.Passed {
			r.Failed++
		}
	}
	return r
}

// Job is one run to do.
type Job struct {
	Case    *Case
	Variant Variant
	Repeat  int
}

func (j Job) key() string {
	return Result{Case: j.Case.Name, Variant: j.Variant.Name(), Repeat: j.Repeat}.Key()
}

// Jobs is the cross product of a suite's cases, the variants and the repeats.
func Jobs(s *Suite, variants []Variant, repeat int) []Job {
	var out []Job
	for _, v := range variants {
		for i := range s.Cases {
			for r := range max(repeat, 1) {
				out = append(out, Job{Case: &s.Cases[i], Variant: v, Repeat: r + 1})
			}
		}
	}
	return out
}

// Config is an evaluation's setup.
type Config struct {
	Runner Runner
	// Concurrency bounds the runs in flight; 0 means 1.
	Concurrency int
	// Done are results of an earlier, interrupted evaluation: their jobs
	// are not run again.
	Done []Result
	// OnResult is called (one at a time) with each result as it finishes,
	// and done and total jobs so far.
	OnResult func(r Result, done, total int) error
	// Judge, when set, scores each article besides the metrics.
	Judge Judge
}

// Evaluate runs the jobs not yet done and returns every result, earlier
// ones first. A job whose runner returns an error is not recorded; the
// first such error (an interruption) is returned after the runs in flight
// finish.
func Evaluate(ctx context.Context, jobs []Job, cfg Config) ([]Result, error) {
	done := map[string]bool{}
	results := append([]Result(nil), cfg.Done...)
	for _, r := range cfg.Done {
		done[r.Key()] = true
	}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, max(cfg.Concurrency, 1))
	for _, j := range jobs {
		if done[j.key()] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r, err := runOne(ctx, j, cfg)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				results = append(results, r)
				if cfg.OnResult != nil {
					err = cfg.OnResult(r, len(results), len(jobs))
				}
			}
			if err != nil && first == nil {
				first = err
			}
		})
	}
	wg.Wait()
	return results, first
}

func runOne(ctx context.Context, j Job, cfg Config) (Result, error) {
	o, err := cfg.Runner.Run(ctx, j.Variant, j.Case)
	if err != nil {
		return Result{}, fmt.Errorf("%s on %s: %w", j.Case.Name, j.Variant.Name(), err)
	}
	r := Score(j.Case, j.Variant, j.Repeat, o)
	if cfg.Judge != nil && ctx.Err() == nil {
		s, err := cfg.Judge.Score(ctx, j.Case, o)
		if err != nil {
			return Result{}, fmt.Errorf("judge of %s on %s: %w", j.Case.Name, j.Variant.Name(), err)
		}
		r.Judge = &s
	}
	return r, nil
}

// Journal is the file results are appended to as they finish (JSON
// lines), so that an interrupted evaluation can resume.
type Journal struct {
	f *os.File
	w *bufio.Writer
}

// OpenJournal opens (creating or appending to) a journal.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("eval: journal: %w", err)
	}
	j := &Journal{f: f, w: bufio.NewWriter(f)}
	// A line cut short by a kill is ended, so the next result starts a line of its own.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			_, _ = j.w.WriteString("\n")
		}
	}
	return j, nil
}

// Append writes a result and flushes it to the file.
func (j *Journal) Append(r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("eval: journal: %w", err)
	}
	if _, err := j.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("eval: journal: %w", err)
	}
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("eval: journal: %w", err)
	}
	return nil
}

// Close closes the journal's file.
func (j *Journal) Close() error { return j.f.Close() }

// ReadJournal returns the results of a journal; a missing file has none,
// and a last line cut short by a kill is ignored.
func ReadJournal(path string) ([]Result, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eval: journal: %w", err)
	}
	defer f.Close()
	var out []Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r Result
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Case != "" {
			out = append(out, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: journal: %w", err)
	}
	return out, nil
}
