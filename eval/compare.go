package eval

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
)

// Verdicts of a comparison.
const (
	Better     = "better"
	Worse      = "worse"
	NoClearDif = "no clear difference"
)

// Difference is one metric's change from a base evaluation to a new one.
type Difference struct {
	Metric string  `json:"metric"`
	Base   float64 `json:"base"`
	New    float64 `json:"new"`
	// Delta is the mean over cases of new minus base; Low and High its
	// 95 % bootstrap interval.
	Delta   float64 `json:"delta"`
	Low     float64 `json:"low"`
	High    float64 `json:"high"`
	Cases   int     `json:"cases"`
	Verdict string  `json:"verdict"`
}

// OutcomeChange is a case whose outcome differs between the evaluations.
type OutcomeChange struct {
	Case     string `json:"case"`
	Base     string `json:"base"`
	New      string `json:"new"`
	BaseOK   bool   `json:"base_ok"`
	NewOK    bool   `json:"new_ok"`
	Improved bool   `json:"improved"`
}

// Comparison is what Compare finds.
type Comparison struct {
	Changed     []OutcomeChange `json:"changed_outcomes"`
	Differences []Difference    `json:"differences"`
}

// bootstrapRounds is the number of resamples of the cases.
const bootstrapRounds = 2000

// Compare compares two evaluations case by case: a case's value of a
// metric is its mean over the document's runs of it (every variant and
// repeat), and the difference's interval comes from resampling the cases
// common to both. seed makes the bootstrap reproducible.
func Compare(base, next *Document, seed uint64) Comparison {
	b, n := byCase(base), byCase(next)
	var c Comparison
	for _, name := range slices.Sorted(maps.Keys(b)) {
		nb, ok := n[name]
		if !ok {
			continue
		}
		bo, no := b[name].outcome, nb.outcome
		if bo != no {
			c.Changed = append(c.Changed, OutcomeChange{Case: name, Base: b[name].stop, New: nb.stop, BaseOK: bo, NewOK: no, Improved: no})
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for _, m := range MetricNames {
		var deltas, bs, ns []float64
		for _, name := range slices.Sorted(maps.Keys(b)) {
			bv, ok1 := b[name].values[m]
			nv, ok2 := n[name].values[m]
			if ok1 && ok2 {
				deltas, bs, ns = append(deltas, nv-bv), append(bs, bv), append(ns, nv)
			}
		}
		if len(deltas) == 0 {
			continue
		}
		d := Difference{Metric: m, Base: mean(bs), New: mean(ns), Delta: mean(deltas), Cases: len(deltas)}
		d.Low, d.High = bootstrap(deltas, rng)
		d.Verdict = verdict(m, d.Low, d.High)
		c.Differences = append(c.Differences, d)
	}
	return c
}

func verdict(metric string, low, high float64) string {
	up, down := low > 0, high < 0
	if LowerIsBetter(metric) {
		up, down = down, up
	}
	switch {
	case up:
		return Better
	case down:
		return Worse
	}
	return NoClearDif
}

// bootstrap returns the 2.5th and 97.5th percentiles of the mean of xs
// resampled with replacement.
func bootstrap(xs []float64, rng *rand.Rand) (float64, float64) {
	means := make([]float64, bootstrapRounds)
	for i := range means {
		var s float64
		for range xs {
			s += xs[rng.IntN(len(xs))]
		}
		means[i] = s / float64(len(xs))
	}
	sort.Float64s(means)
	return means[int(0.025*float64(len(means)))], means[int(0.975*float64(len(means)))-1]
}

type caseValues struct {
	values  map[string]float64
	outcome bool
	stop    string
}

func byCase(d *Document) map[string]caseValues {
	sums, counts := map[string]map[string]float64{}, map[string]map[string]int{}
	out := map[string]caseValues{}
	okCount, runs := map[string]int{}, map[string]int{}
	for _, r := range d.Results {
		if sums[r.Case] == nil {
			sums[r.Case], counts[r.Case] = map[string]float64{}, map[string]int{}
		}
		for k, x := range r.Metrics {
			sums[r.Case][k] += x
			counts[r.Case][k]++
		}
		runs[r.Case]++
		okCount[r.Case] += b2i(r.OutcomeOK)
		cv := out[r.Case]
		cv.stop = cmp.Or(cv.stop, r.StopReason)
		out[r.Case] = cv
	}
	for name, s := range sums {
		cv := out[name]
		cv.values = map[string]float64{}
		for k, x := range s {
			cv.values[k] = x / float64(counts[name][k])
		}
		cv.outcome = okCount[name]*2 > runs[name]
		out[name] = cv
	}
	return out
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Gate is a --fail-under threshold: each variant's mean of Metric must be
// at least Value (at most, for a metric where lower is better).
type Gate struct {
	Metric string
	Value  float64
}

// CheckGates returns a sentence for each gate a variant misses.
func CheckGates(d *Document, gates []Gate) []string {
	var out []string
	for _, g := range gates {
		for _, v := range d.Variants {
			st, ok := v.Metrics[g.Metric]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s: %s was not measured (no case it applies to)", v.Name, g.Metric))
			case LowerIsBetter(g.Metric) && st.Mean > g.Value:
				out = append(out, fmt.Sprintf("%s: %s %.4g is above %.4g", v.Name, g.Metric, st.Mean, g.Value))
			case !LowerIsBetter(g.Metric) && st.Mean < g.Value:
				out = append(out, fmt.Sprintf("%s: %s %.4g is below %.4g", v.Name, g.Metric, st.Mean, g.Value))
			}
		}
	}
	return out
}

// WorseQuality returns the quality metrics (ratios) the comparison finds
// clearly worse.
func (c Comparison) WorseQuality() []Difference {
	var out []Difference
	for _, d := range c.Differences {
		if d.Verdict == Worse && slices.Contains(QualityMetrics, d.Metric) {
			out = append(out, d)
		}
	}
	return out
}

// OnlyVariant returns a copy of the document with the results of one
// variant only, so that two variants of one evaluation can be compared;
// ok is false when the document has no such variant.
func (d *Document) OnlyVariant(name string) (*Document, bool) {
	out := *d
	out.Results, out.Variants = nil, nil
	for _, r := range d.Results {
		if r.Variant == name {
			out.Results = append(out.Results, r)
		}
	}
	for _, v := range d.Variants {
		if v.Name == name {
			out.Variants = append(out.Variants, v)
		}
	}
	return &out, len(out.Variants) > 0 || len(out.Results) > 0
}
