package eval

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/newsroom-dev/newsroom/grounding"
)

// The metrics of an article, by the names results give them. Ratios are
// in 0..1 and higher is better; see docs/eval.md for each formula.
const (
	ClaimSupport      = "claim_support"
	CitationCoverage  = "citation_coverage"
	CitationPrecision = "citation_precision"
	QuoteFidelity     = "quote_fidelity"
	ExpectedFacts     = "expected_facts"
	ForbiddenAbsent   = "forbidden_absent"
	HeadlineSupported = "headline_supported"
	LengthOK          = "length_ok"
	FleschReadingEase = "flesch_reading_ease"
	GradeLevel        = "grade_level"
	Approved          = "approved"
	Messages          = "messages"
	Calls             = "calls"
	PromptTokens      = "prompt_tokens"
	CompletionTokens  = "completion_tokens"
	ReasoningTokens   = "reasoning_tokens"
	CostUSD           = "cost_usd"
	WallMS            = "wall_ms"
	TTFTMS            = "ttft_ms"
)

// MetricNames lists every metric in report order.
var MetricNames = []string{ClaimSupport, CitationCoverage, CitationPrecision, QuoteFidelity, ExpectedFacts,
	ForbiddenAbsent, HeadlineSupported, LengthOK, FleschReadingEase, GradeLevel, Approved, Messages, Calls,
	PromptTokens, CompletionTokens, ReasoningTokens, CostUSD, WallMS, TTFTMS}

// QualityMetrics are the ratio metrics: what an article gets right.
var QualityMetrics = []string{ClaimSupport, CitationCoverage, CitationPrecision, QuoteFidelity, ExpectedFacts,
	ForbiddenAbsent, HeadlineSupported, LengthOK, Approved}

// LowerIsBetter reports whether a smaller value of the metric is better.
func LowerIsBetter(metric string) bool {
	switch metric {
	case GradeLevel, Messages, Calls, PromptTokens, CompletionTokens, ReasoningTokens, CostUSD, WallMS, TTFTMS:
		return true
	}
	return false
}

// Check is one thing a metric looked at in an article, and whether it held.
type Check struct {
	Metric string `json:"metric"`
	Passed bool   `json:"passed"`
	// Text is the part of the article checked (a claim, a sentence, a
	// quotation), which the HTML report highlights when the check failed.
	Text   string `json:"text,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Source is a document an article may cite, by its number.
type Source struct {
	ID   int
	Text string
}

// Material is what an article was written from.
type Material struct {
	Task    string
	Sources []Source
}

func (m Material) texts() []string {
	out := []string{m.Task}
	for _, s := range m.Sources {
		out = append(out, s.Text)
	}
	return out
}

// Article is what a run wrote: a headline (may be empty) and a body.
type Article struct {
	Headline string `json:"headline"`
	Body     string `json:"body"`
}

// measure collects the checks and values of the text metrics.
type measure struct {
	values map[string]float64
	checks []Check
}

func (ms *measure) ratio(metric string, passed, total int) {
	if total > 0 {
		ms.values[metric] = float64(passed) / float64(total)
	}
}

func (ms *measure) check(metric string, ok bool, text, detail string) bool {
	ms.checks = append(ms.checks, Check{Metric: metric, Passed: ok, Text: text, Detail: detail})
	return ok
}

// Measure returns the text metrics of an article (all but the run's
// outcome and usage) and the checks behind them. A metric that does not
// apply (no quotation to check, no expected facts, no sources to cite) is
// absent from the map, not 0 or 1.
func Measure(a Article, m Material, e Expect) (map[string]float64, []Check) {
	ms := &measure{values: map[string]float64{}}
	ms.claims(a, m)
	ms.citations(a, m)
	ms.quotes(a, m)
	ms.expected(a, e)
	ms.headline(a, m)
	if e.Length != nil {
		n := len(words(a.Body))
		ok := n >= e.Length.Min && (e.Length.Max == 0 || n <= e.Length.Max)
		ms.check(LengthOK, ok, "", fmt.Sprintf("%d words; expected %d to %s", n, e.Length.Min, bound(e.Length.Max)))
		ms.ratio(LengthOK, b2i(ok), 1)
	}
	if ease, grade, ok := readability(a.Body); ok {
		ms.values[FleschReadingEase], ms.values[GradeLevel] = ease, grade
	}
	return ms.values, ms.checks
}

func bound(n int) string {
	if n == 0 {
		return "any"
	}
	return strconv.Itoa(n)
}

func b2i(ok bool) int {
	if ok {
		return 1
	}
	return 0
}

// claims: the grounding checker on the body against the task and sources.
func (ms *measure) claims(a Article, m Material) {
	r := grounding.Check(a.Body, m.texts())
	for _, u := range r.Unsupported {
		ms.check(ClaimSupport, false, u, "found in neither the task nor a source")
	}
	if r.Checked == 0 {
		ms.values[ClaimSupport] = 1
		return
	}
	ms.ratio(ClaimSupport, r.Checked-len(r.Unsupported), r.Checked)
}

// factual reports whether a sentence states a checkable fact.
func factual(s string) bool { return len(grounding.Claims(s)) > 0 }

// citations: fact sentences with a [n]; cited sources holding their facts.
func (ms *measure) citations(a Article, m Material) {
	if len(m.Sources) == 0 {
		return
	}
	var facts, cited, precise int
	for _, s := range sentences(a.Body) {
		if !factual(citationRe.ReplaceAllString(s, "")) {
			continue
		}
		facts++
		ids := citationRe.FindAllStringSubmatch(s, -1)
		if !ms.check(CitationCoverage, len(ids) > 0, s, "states a fact without a [n] citation") || len(ids) == 0 {
			continue
		}
		cited++
		var texts []string
		missing := ""
		for _, id := range ids {
			n, _ := strconv.Atoi(id[1])
			i := slices.IndexFunc(m.Sources, func(src Source) bool { return src.ID == n })
			if i < 0 {
				missing = id[0]
				continue
			}
			texts = append(texts, m.Sources[i].Text)
		}
		r := grounding.Check(citationRe.ReplaceAllString(s, ""), texts)
		ok := missing == "" && len(r.Unsupported) == 0
		detail := "the cited source does not hold: " + strings.Join(r.Unsupported, "; ")
		if missing != "" {
			detail = missing + " is no source of the run"
		}
		if ms.check(CitationPrecision, ok, s, detail) {
			precise++
		}
	}
	ms.ratio(CitationCoverage, cited, facts)
	ms.ratio(CitationPrecision, precise, cited)
}
