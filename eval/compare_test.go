package eval

import (
	"fmt"
	"testing"
)

// docOf builds a document of n cases whose claim_support is base+delta(i)
// and whose cost is the same in every case.
func docOf(n int, support func(i int) float64, approvedCase int) *Document {
	d := &Document{Format: FormatVersion}
	for i := range n {
		r := Result{Case: fmt.Sprintf("c%02d", i), Variant: "roundrobin", Repeat: 1, OutcomeOK: true, Outcome: OutcomeApproved,
			Metrics: map[string]float64{ClaimSupport: support(i), CostUSD: 0.01}}
		if i == approvedCase {
			r.OutcomeOK = false
		}
		d.Results = append(d.Results, r)
	}
	return d
}

func TestCompare_FindsAKnownDifference(t *testing.T) {
	base := docOf(20, func(i int) float64 { return 0.9 + float64(i%3)*0.01 }, -1)
	worse := docOf(20, func(i int) float64 { return 0.7 + float64(i%3)*0.01 }, 4)
	c := Compare(base, worse, 1)
	if len(c.Changed) != 1 || c.Changed[0].Case != "c04" || c.Changed[0].Improved {
		t.Errorf("changed outcomes %+v, want c04 now failing", c.Changed)
	}
	got := map[string]Difference{}
	for _, d := range c.Differences {
		got[d.Metric] = d
	}
	cs := got[ClaimSupport]
	if cs.Verdict != Worse || cs.Low > -0.19 || cs.High < -0.21 || !near(cs.Delta, -0.2) {
		t.Errorf("claim_support %+v, want worse by 0.2 with the interval around it", cs)
	}
	if got[CostUSD].Verdict != NoClearDif {
		t.Errorf("cost %+v, want no clear difference", got[CostUSD])
	}
	if w := c.WorseQuality(); len(w) != 1 || w[0].Metric != ClaimSupport {
		t.Errorf("worse quality %+v", w)
	}
	if back := Compare(worse, base, 1); back.Differences[0].Verdict != Better {
		t.Errorf("reversed: %+v, want better", back.Differences[0])
	}
}

func TestCompare_NoisyEqualRunsAreNoClearDifference(t *testing.T) {
	base := docOf(12, func(i int) float64 { return []float64{0.8, 1}[i%2] }, -1)
	next := docOf(12, func(i int) float64 { return []float64{1, 0.8}[i%2] }, -1)
	for _, d := range Compare(base, next, 7).Differences {
		if d.Verdict != NoClearDif {
			t.Errorf("%s: %s, want no clear difference", d.Metric, d.Verdict)
		}
	}
}

func TestCheckGates_SaysWhichVariantMissesWhichThreshold(t *testing.T) {
	d := sampleDocument(t)
	got := CheckGates(d, []Gate{{ClaimSupport, 0.99}, {CostUSD, 0.015}})
	if len(got) != 2 {
		t.Fatalf("gates %q, want the selector's claim_support and cost", got)
	}
	if got := CheckGates(d, []Gate{{ClaimSupport, 0.5}}); len(got) != 0 {
		t.Errorf("gates %q, want none", got)
	}
}

func TestParseJudgeReply_NeedsEveryCriterionScoredOneToFive(t *testing.T) {
	ok := `Here: {"faithfulness":{"score":5,"reason":"a"},"neutrality":{"score":4,"reason":"b"},"clarity":{"score":3,"reason":"c"},"news_value":{"score":2,"reason":"d"},"extra":{"score":1,"reason":"e"}}`
	s, err := ParseJudgeReply(ok)
	if err != nil || len(s) != 4 || s["clarity"].Score != 3 {
		t.Fatalf("scores %+v, %v", s, err)
	}
	for _, bad := range []string{"no json", `{"faithfulness":{"score":6,"reason":"a"}}`, `{"faithfulness":{"score":5}}`} {
		if _, err := ParseJudgeReply(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
