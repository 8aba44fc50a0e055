package termination

import (
	"slices"
	"strings"
	"unicode"
)

// HasVerdict reports whether content ends with a verdict line for word.
//
// The verdict line is the last non-empty line of content. It gives the
// verdict when, with Markdown emphasis (*, _, `, ~), heading and quote marks,
// quotes, brackets, trailing punctuation and symbols (an emoji) removed, it
// ends with word as a whole word:
//
//   - alone, or after a "Verdict:" or "Decision:" label, in any case
//     ("APPROVE", "**Verdict: approve.**");
//   - after other text, written as word is (usually upper case):
//     "Clear, neutral and fair now. APPROVE".
//
// It does not when the line ends with anything else ("APPROVE? No.", "I
// cannot APPROVE yet"), when the word is asked ("APPROVE?"), or when the
// words right before it negate it: a negation ("not", "no", "never",
// "cannot", any "n't", "unable", "refuse", ...) reached from the word
// through auxiliaries and fillers only ("I do not APPROVE", "not ready to
// APPROVE", "won't APPROVE", "I am not in a position to APPROVE"), within
// the same clause (a comma, colon or full stop ends the search: "No changes
// needed, APPROVE" approves); two negations cancel ("no reason not to
// APPROVE" approves).
func HasVerdict(content, word string) bool {
	line := lastLine(content)
	line = strings.TrimFunc(line, isDecoration)
	if strings.HasSuffix(line, "?") {
		return false // a question, not a verdict
	}
	line = strings.TrimRightFunc(line, func(r rune) bool { return isDecoration(r) || unicode.IsPunct(r) })
	if len(line) < len(word) || !strings.EqualFold(line[len(line)-len(word):], word) {
		return false
	}
	prefix := line[:len(line)-len(word)]
	if prefix != "" {
		r := []rune(prefix)
		if last := r[len(r)-1]; unicode.IsLetter(last) || unicode.IsDigit(last) || last == '\'' || last == '’' || last == '-' {
			return false // part of a longer word: "DISAPPROVE", "PRE-APPROVE"
		}
	}
	if isLabel(prefix) {
		return true
	}
	if line[len(line)-len(word):] != word {
		return false // in running text the word counts only as written
	}
	return !negated(prefix)
}

// lastLine is content's last non-empty line.
func lastLine(content string) string {
	lines := strings.Split(strings.TrimSpace(content), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// isDecoration reports whether r is Markdown emphasis or markup, a quote, a
// bracket, a symbol or space: what may surround a verdict.
func isDecoration(r rune) bool {
	switch r {
	case '*', '_', '`', '~', '#', '>', '"', '\'', '“', '”', '‘', '’', '«', '»', '(', ')', '[', ']', '{', '}':
		return true
	}
	return unicode.IsSpace(r) || unicode.IsSymbol(r) || unicode.Is(unicode.Variation_Selector, r)
}

// labels may stand before the word on a verdict line.
var labels = []string{"", "verdict", "decision", "final verdict", "final decision", "my verdict", "my decision", "editor's verdict", "recommendation"}

// isLabel reports whether prefix is empty or only a label ("Verdict:").
func isLabel(prefix string) bool {
	p := strings.ToLower(strings.TrimFunc(prefix, func(r rune) bool { return isDecoration(r) || unicode.IsPunct(r) && r != '\'' }))
	p = strings.ReplaceAll(p, "’", "'")
	return slices.Contains(labels, p)
}

// negations are the words that negate a verdict that follows them.
var negations = []string{"not", "no", "never", "cannot", "nor", "neither", "unable", "refuse", "decline", "hesitate",
	"hardly", "barely", "without", "before", "until", "unless", "instead"}

// fillers are the words that may stand between a negation and the verdict
// it negates: pronouns, auxiliaries, "to", "ready", "able", degree words.
var fillers = []string{"i", "i'm", "i'd", "i'll", "we", "we're", "we'd", "we'll", "you", "it", "it's", "this", "that",
	"there", "there's", "would", "will", "can", "could", "should", "shall", "may", "might", "must", "do", "does", "did",
	"am", "is", "are", "be", "been", "being", "have", "has", "to", "ready", "able", "going", "prepared", "willing",
	"happy", "comfortable", "quite", "fully", "really", "just", "still", "simply", "entirely", "completely", "yet",
	"way", "in", "a", "position", "even", "so", "at", "all", "one", "as", "any", "reason", "time"}

// negated reports whether the words before a verdict negate it (see
// HasVerdict): walking back from the verdict over fillers and negations to
// a word of another kind or the end of the clause, it counts the negations;
// an odd count negates ("I do not APPROVE"), an even one does not ("I see
// no reason not to APPROVE").
func negated(prefix string) bool {
	words := strings.Fields(prefix)
	n := 0
	for i := len(words) - 1; i >= 0; i-- {
		w := words[i]
		if r := []rune(w); strings.ContainsRune(".,;:!?—–-", r[len(r)-1]) {
			break // the verdict's clause starts after this word
		}
		w = strings.ToLower(strings.TrimFunc(w, func(r rune) bool { return (isDecoration(r) || unicode.IsPunct(r)) && r != '\'' && r != '’' }))
		w = strings.ReplaceAll(w, "’", "'")
		if slices.Contains(negations, w) || strings.HasSuffix(w, "n't") {
			n++
			continue
		}
		if !slices.Contains(fillers, w) {
			break
		}
	}
	return n%2 == 1
}
