package termination_test

import (
	"testing"

	"github.com/newsroom-dev/newsroom/termination"
)

// TestHasVerdict_RealisticEndings is the verdict rule on endings the way
// models write them: the word ending the last line approves, with emphasis,
// punctuation, a label or an emoji around it; a negated, asked or
// non-final word does not. The same rule serves REVISE and TERMINATE.
func TestHasVerdict_RealisticEndings(t *testing.T) {
	cases := []struct {
		content, word string
		want          bool
	}{
		// The word alone on its line, as the prompt asks.
		{"Good work.\n\nAPPROVE", "APPROVE", true},
		{"Fine.\nAPPROVE.", "APPROVE", true},
		{"Fine.\napprove", "APPROVE", true},
		{"Fine.\n**APPROVE**", "APPROVE", true},
		{"Fine.\n`APPROVE`", "APPROVE", true},
		{"Fine.\n## APPROVE", "APPROVE", true},
		{"Fine.\n> APPROVE", "APPROVE", true},
		{"Fine.\n\"APPROVE\"", "APPROVE", true},
		{"Fine.\nAPPROVE ✅", "APPROVE", true},
		{"Fine.\n✅ APPROVE", "APPROVE", true},
		{"Fine.\nAPPROVE!\n\n", "APPROVE", true},
		{"Fine.\n- APPROVE", "APPROVE", true},
		// A label.
		{"Fine.\n**Verdict: APPROVE.**", "APPROVE", true},
		{"Fine.\nVerdict: approve", "APPROVE", true},
		{"Fine.\n**Decision:** APPROVE", "APPROVE", true},
		{"Fine.\nFinal verdict — APPROVE", "APPROVE", true},
		{"Fine.\n_Decision_: *APPROVE*", "APPROVE", true},
		// The word as the last word of a sentence.
		{"Reviewed.\nClear, neutral and fair now. APPROVE", "APPROVE", true},
		{"The lead is sharp and the quotes are attributed. APPROVE.", "APPROVE", true},
		{"No changes needed, APPROVE", "APPROVE", true},
		{"No further changes needed — APPROVE", "APPROVE", true},
		{"All points addressed; I APPROVE", "APPROVE", true},
		{"This version is ready to publish and I APPROVE.", "APPROVE", true},
		{"I'm happy to APPROVE", "APPROVE", true},
		{"I see no reason not to APPROVE.", "APPROVE", true},
		{"Ready for publication: **APPROVE**", "APPROVE", true},
		{"The second paragraph still needs a source.\n1. Attribute the figure.\nPlease fix these. REVISE", "REVISE", true},
		{"Fix the headline.\n**Verdict: REVISE**", "REVISE", true},
		{"All steps are done. The article is final. TERMINATE", "TERMINATE", true},
		{"Summary: the article was written, edited and approved.\nTERMINATE", "TERMINATE", true},

		// Negations.
		{"I do not APPROVE", "APPROVE", false},
		{"I do not APPROVE.", "APPROVE", false},
		{"The figures are unsourced, so I cannot APPROVE yet.", "APPROVE", false},
		{"Not ready to APPROVE", "APPROVE", false},
		{"I won't APPROVE", "APPROVE", false},
		{"I won’t APPROVE this version.", "APPROVE", false},
		{"APPROVE? No.", "APPROVE", false},
		{"Should I APPROVE?", "APPROVE", false},
		{"APPROVE?", "APPROVE", false},
		{"I am not in a position to APPROVE", "APPROVE", false},
		{"I can't quite APPROVE", "APPROVE", false},
		{"Fix the lead before I APPROVE.", "APPROVE", false},
		{"I'm unable to APPROVE", "APPROVE", false},
		{"We should not TERMINATE", "TERMINATE", false},
		{"Don't TERMINATE", "TERMINATE", false},
		{"There is no way I would APPROVE", "APPROVE", false},
		// The word elsewhere than at the end of the last line.
		{"APPROVE\nbut fix the lead first.\nREVISE", "APPROVE", false},
		{"I would APPROVE once the quote is attributed.", "APPROVE", false},
		{"APPROVE — pending a check of the date", "APPROVE", false},
		{"Looks good.\nAPPROVED", "APPROVE", false},
		{"Looks good.\nDISAPPROVE", "APPROVE", false},
		{"The mayor did not approve", "APPROVE", false}, // running text, lower case
		{"Fix the lead.\nREVISE", "APPROVE", false},
		{"Fine.\nAPPROVE", "REVISE", false},
		{"", "APPROVE", false},
		{"Do not TERMINATE yet: the editor has not reviewed the article.", "TERMINATE", false},
	}
	approve, refuse := 0, 0
	for _, c := range cases {
		if got := termination.HasVerdict(c.content, c.word); got != c.want {
			t.Errorf("HasVerdict(%q, %s) = %v, want %v", c.content, c.word, got, c.want)
		}
		if c.want {
			approve++
		} else {
			refuse++
		}
	}
	if approve < 20 || refuse < 20 {
		t.Fatalf("%d endings that give the verdict and %d that do not: the table wants at least 20 of each", approve, refuse)
	}
}
