package emulator

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/newsroom-dev/newsroom/model"
)

// The newsroom personas. Every answer is a pure function of the messages, so
// the same request always gets the same answer.
//
// The agents' conversation shape: the system prompt (first line "You are
// <AgentName>"), the task as a user message named "user", other agents'
// messages as user messages named after the agent, the agent's own earlier
// messages as assistant messages.

// Agent names the personas play.
const (
	Planner     = "PlanningAgent"
	Reporter    = "News_Reporter"
	Editor      = "News_Editor"
	Headliner   = "Headline_Generator"
	Researcher  = "Researcher"
	FactChecker = "Fact_Checker"
	Summarizer  = "Summary_Writer"
)

var personaNames = []string{Planner, Reporter, Editor, Headliner, Researcher, FactChecker, Summarizer}

// personaReply answers a conversation as the persona it addresses.
func personaReply(msgs []model.Message) string {
	if isJudge(msgs) {
		return judgeReply(msgs)
	}
	if len(msgs) > 0 {
		if cands, ok := selectionCandidates(msgs[0].Content); ok {
			return selectSpeaker(msgs[0].Content, cands)
		}
	}
	switch personaOf(msgs) {
	case Reporter:
		return reporterReply(msgs)
	case Editor:
		return editorReply(msgs)
	case Planner:
		return plannerReply(msgs)
	case Headliner:
		return headlinerReply(msgs)
	case Researcher:
		return researcherReply(msgs)
	case FactChecker:
		return factCheckerReply(msgs)
	case Summarizer:
		return summaryReply(msgs)
	}
	return genericReply(msgs)
}

// personaOf finds the agent named on the first line of the first system
// message ("You are News_Editor, ...").
func personaOf(msgs []model.Message) string {
	for _, m := range msgs {
		if m.Role != model.RoleSystem && m.Role != "developer" {
			continue
		}
		line, _, _ := strings.Cut(strings.TrimSpace(m.Content), "\n")
		rest, ok := strings.CutPrefix(line, "You are ")
		if !ok {
			return ""
		}
		rest = strings.TrimPrefix(strings.TrimPrefix(rest, "the "), "a ")
		for _, name := range personaNames {
			if strings.HasPrefix(rest, name) || strings.HasPrefix(rest, strings.ReplaceAll(name, "_", " ")) {
				return name
			}
		}
		return ""
	}
	return ""
}

// task returns the task text: the first user message named "user", or else
// the first user message without a name.
func task(msgs []model.Message) string {
	for _, m := range msgs {
		if m.Role == model.RoleUser && m.Name == "user" {
			return m.Content
		}
	}
	for _, m := range msgs {
		if m.Role == model.RoleUser && m.Name == "" {
			return m.Content
		}
	}
	return ""
}

func ownMessages(msgs []model.Message) int {
	n := 0
	for _, m := range msgs {
		if m.Role == model.RoleAssistant {
			n++
		}
	}
	return n
}

func hasMessageFrom(msgs []model.Message, name string) bool {
	for _, m := range msgs {
		if m.Role == model.RoleUser && m.Name == name {
			return true
		}
	}
	return false
}

// ---- facts ----

var instruction = regexp.MustCompile(`(?i)^\s*(please\s+)?(write|draft|create|compose|produce|prepare)\b[^:.]*?\b(about|on|covering|from|based on)\s+`)

// facts splits the task into sentences, without the instruction around
// them ("Write a short news article about: ...").
func facts(task string) []string {
	f, _ := parseTask(task)
	return f
}

// parseTask returns the task's facts, and whether the task only names a
// topic ("Write an article about the new bridge") rather than giving facts.
func parseTask(task string) (facts []string, topic bool) {
	t := strings.TrimSpace(task)
	if head, rest, ok := strings.Cut(t, ":"); ok && len(head) < 120 && instructionVerb(head) && strings.TrimSpace(rest) != "" &&
		!strings.HasPrefix(rest, "//") { // "Write about https://...": the colon is the URL's
		t = strings.TrimSpace(rest)
	} else if loc := instruction.FindStringIndex(t); loc != nil {
		t = strings.TrimSpace(t[loc[1]:])
		topic = true
	}
	for _, s := range sentences(t) {
		s = strings.Trim(strings.TrimSpace(s), "-*• ")
		if s == "" {
			continue
		}
		facts = append(facts, capitalize(ensureStop(s)))
	}
	return facts, topic && len(facts) == 1
}

func instructionVerb(s string) bool {
	l := strings.ToLower(strings.TrimSpace(s))
	l = strings.TrimPrefix(l, "please ")
	for _, v := range []string{"write", "draft", "create", "compose", "produce", "prepare", "facts", "task", "report"} {
		if strings.HasPrefix(l, v) {
			return true
		}
	}
	return false
}

var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "st": true, "jr": true, "sr": true,
	"gov": true, "sen": true, "rep": true, "gen": true, "col": true, "lt": true, "sgt": true, "no": true,
	"inc": true, "ltd": true, "co": true, "corp": true, "vs": true, "etc": true, "jan": true, "feb": true,
	"mar": true, "apr": true, "jun": true, "jul": true, "aug": true, "sep": true, "sept": true, "oct": true,
	"nov": true, "dec": true, "a.m": true, "p.m": true, "u.s": true, "e.g": true, "i.e": true,
}

// sentences splits text at sentence ends and line breaks, leaving
// abbreviations, initials and decimal numbers alone.
func sentences(text string) []string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		start := 0
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c != '.' && c != '!' && c != '?' {
				continue
			}
			j := i + 1
			for j < len(line) && (line[j] == '"' || line[j] == '\'' || line[j] == ')') {
				j++
			}
			if j < len(line) && line[j] != ' ' {
				continue
			}
			if c == '.' {
				word := lastWord(line[start:i])
				if abbreviations[strings.ToLower(word)] || (len(word) == 1 && unicode.IsUpper(rune(word[0]))) {
					continue
				}
			}
			out = append(out, line[start:j])
			start = j
		}
		if rest := strings.TrimSpace(line[start:]); rest != "" {
			out = append(out, rest)
		}
	}
	return out
}

func lastWord(s string) string {
	s = strings.TrimRight(s, " ")
	if i := strings.LastIndexAny(s, " (\"'"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func ensureStop(s string) string {
	if s == "" || strings.ContainsAny(s[len(s)-1:], ".!?\"'") {
		return s
	}
	return s + "."
}

func trimStop(s string) string { return strings.TrimRight(s, ".!?;: ") }

func capitalize(s string) string {
	for i, r := range s {
		return s[:i] + string(unicode.ToUpper(r)) + s[i+len(string(r)):]
	}
	return s
}

func lowerFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	// Keep acronyms and proper-looking words ("NASA", "Springfield").
	next := s[size:]
	if len(next) > 0 && unicode.IsUpper(rune(next[0])) {
		return s
	}
	return string(unicode.ToLower(r)) + next
}

// headline turns a sentence into a headline of about max words that is
// still a complete sentence: a long one is cut at a clause boundary, else
// loses its trailing time and place phrases ("on Tuesday", "on Main
// Street"), never words in the middle of a clause.
func headline(s string, max int) string {
	s = trimStop(s)
	words := strings.Fields(s)
	if len(words) <= max {
		return capitalize(s)
	}
	for i := max - 1; i >= max/2; i-- {
		if strings.HasSuffix(words[i], ",") || strings.HasSuffix(words[i], ";") {
			return capitalize(strings.TrimRight(strings.Join(words[:i+1], " "), ",;:"))
		}
	}
	// Drop trailing prepositional phrases while the sentence keeps a
	// subject, a verb and an object (at least four words).
	for len(words) > max {
		cut := -1
		for i := len(words) - 1; i >= 4; i-- {
			if trailingPrepositions[strings.ToLower(words[i])] {
				cut = i
				break
			}
		}
		if cut < 0 {
			break
		}
		words = words[:cut]
	}
	return capitalize(strings.TrimRight(strings.Join(words, " "), ",;:"))
}

// trailingPrepositions start the phrases headline may drop from the end.
var trailingPrepositions = map[string]bool{"on": true, "in": true, "at": true, "by": true, "from": true, "after": true,
	"before": true, "during": true, "near": true, "since": true, "until": true, "with": true, "for": true}

var (
	leadingArticle = regexp.MustCompile(`^(The|A|An)\s+`)
	trailingWhen   = regexp.MustCompile(`(?i),?\s+(on (Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)|yesterday|today|this (morning|afternoon|evening|week|month|year)|last (night|week|month|year))$`)
	smallWords     = map[string]bool{"a": true, "an": true, "and": true, "as": true, "at": true, "but": true, "by": true, "for": true, "in": true, "of": true, "on": true, "or": true, "the": true, "to": true, "with": true}
)

// title turns the lead sentence into a title line: no leading article or
// trailing "on Monday", in title case.
func title(lead string) string {
	h := headline(stripCitations(lead), 12)
	if t := trailingWhen.ReplaceAllString(h, ""); wordCount(t) >= 3 {
		h = t
	}
	if t := leadingArticle.ReplaceAllString(h, ""); wordCount(t) >= 3 {
		h = t
	}
	words := strings.Fields(h)
	for i, w := range words {
		if i > 0 && smallWords[strings.ToLower(w)] {
			continue
		}
		words[i] = capitalize(w)
	}
	return strings.Join(words, " ")
}

func wordCount(s string) int { return len(strings.Fields(s)) }

// ---- News_Reporter ----

const (
	draftClosing   = "Further details were not immediately available."
	revisedClosing = "The newsroom will update this report as more information becomes available."
	noFacts        = "The newsroom received the assignment without any facts to report, so no details can be given yet."
)

func reporterReply(msgs []model.Message) string {
	f, topic := parseTask(task(msgs))
	if sf := sourceFacts(toolSources(msgs)); len(sf) > 0 {
		// Fetched sources replace the task as the facts, cited [n].
		f, topic = sf, false
	}
	if len(f) == 0 {
		f = []string{noFacts}
	}
	if hasMessageFrom(msgs, Editor) || hasMessageFrom(msgs, FactChecker) {
		return revisedArticle(f, topic)
	}
	return draftArticle(f, topic)
}

// Lines for a task that names only a topic: the reporter says what the
// story covers and, having no facts, invents none.
const (
	topicBody        = "The assignment came without further details, so this report sticks to what is established and adds no names, figures or quotes of its own."
	topicRevisedBody = "No further details were provided with the assignment; names, figures and comments will be added once they are confirmed."
)

func topicLead(f string) string { return "This report covers " + lowerFirst(trimStop(f)) }

// bodyParagraphs groups the facts after the lead into one to three short
// paragraphs.
func bodyParagraphs(rest []string) []string {
	if len(rest) == 0 {
		return nil
	}
	per := (len(rest) + 2) / 3
	per = max(per, 2)
	if len(rest) <= 3 {
		per = 1
	}
	var out []string
	for i := 0; i < len(rest); i += per {
		out = append(out, strings.Join(rest[i:min(i+per, len(rest))], " "))
	}
	return out
}

func draftArticle(f []string, topic bool) string {
	if topic {
		return strings.Join([]string{title(f[0]), topicLead(f[0]) + ".", topicBody, draftClosing}, "\n\n")
	}
	paras := []string{title(f[0]), f[0]}
	body := bodyParagraphs(f[1:])
	if len(body) == 0 {
		body = []string{"The information was shared with the newsroom and is reported here as it was received."}
	}
	paras = append(paras, body...)
	paras = append(paras, draftClosing)
	return strings.Join(paras, "\n\n")
}

// fillers are the words the editor asks to cut from the lead.
var fillers = regexp.MustCompile(`(?i)\b(very|really|actually|basically|just|quite|in order)\s+`)

func tightenLead(s string) string {
	s = fillers.ReplaceAllString(s, "")
	return capitalize(strings.Join(strings.Fields(s), " "))
}

func revisedArticle(f []string, topic bool) string {
	if topic {
		return strings.Join([]string{title(f[0]), tightenLead(topicLead(f[0])) + ", based on the information available to the newsroom.",
			topicRevisedBody, revisedClosing}, "\n\n")
	}
	lead := tightenLead(trimStop(f[0]))
	paras := []string{title(f[0]), lead + ", according to information provided to the newsroom."}
	body := bodyParagraphs(f[1:])
	if len(body) > 0 {
		body[0] = "According to the same account, " + lowerFirst(body[0])
	} else {
		body = []string{"The account was provided to the newsroom and has been reported without embellishment."}
	}
	paras = append(paras, body...)
	paras = append(paras, revisedClosing)
	return strings.Join(paras, "\n\n")
}

// ---- News_Editor ----

func editorReply(msgs []model.Message) string {
	// The first review asks for changes, unless the draft it sees was
	// already revised (after a fact check, on the investigations desk).
	if ownMessages(msgs) == 0 && !strings.Contains(latestFrom(msgs, Reporter), revisedClosing) {
		return editorFeedback(msgs)
	}
	return "Thank you, this revision addresses every point. The lead is tighter and the key fact comes first, " +
		"the facts are now attributed, the tone is neutral and fair throughout, and the article ends on what happens " +
		"next without adding opinion. It is clear, accurate and ready for publication.\nAPPROVE"
}

// latestFrom returns the content of the last message from name.
func latestFrom(msgs []model.Message, name string) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == model.RoleUser && msgs[i].Name == name {
			return msgs[i].Content
		}
	}
	return ""
}

func editorFeedback(msgs []model.Message) string {
	draft := latestFrom(msgs, Reporter)
	lead := ""
	if paras := strings.Split(strings.TrimSpace(draft), "\n\n"); len(paras) > 1 {
		lead = paras[1]
	}
	var b strings.Builder
	b.WriteString("Thanks for the draft. It covers the facts, but it needs another pass before it can run:\n\n")
	point := 0
	add := func(s string) {
		point++
		b.WriteString(strconv.Itoa(point))
		b.WriteString(". ")
		b.WriteString(s)
		b.WriteByte('\n')
	}
	if n := wordCount(lead); n > 30 {
		add("Lead: the opening paragraph runs to " + strconv.Itoa(n) + " words. Tighten it so the key fact comes first and cut filler words.")
	} else {
		add("Lead: tighten the opening paragraph so the key fact comes first, and cut any filler words.")
	}
	add("Attribution: the draft states the facts without saying where they come from. Attribute them clearly.")
	add("Clarity and grammar: keep sentences short and in the active voice, and check every name and figure against the facts as given.")
	add("Neutrality and fairness: keep the tone neutral, avoid loaded words, and do not add claims the facts do not support.")
	if strings.Contains(draft, draftClosing) {
		add("Ending: the closing line (\"" + draftClosing + "\") says nothing. End with what happens next, without adding opinion.")
	} else {
		add("Ending: end with what happens next, without adding opinion.")
	}
	b.WriteString("\nPlease send a revised version with these changes.\nREVISE")
	return b.String()
}

// ---- PlanningAgent ----

// planLines is the plan the planner delegates; the selection persona follows it.
var planLines = []string{
	"1. News_Reporter : Draft a short news article from the facts.",
	"2. News_Editor : Review the draft for grammar, clarity, neutrality and fairness.",
	"3. News_Reporter : Revise the article using the editor's feedback.",
	"4. Headline_Generator : Write three headlines for the final article.",
}

func plannerReply(msgs []model.Message) string {
	if ownMessages(msgs) == 0 {
		return strings.Join(planLines, "\n")
	}
	var done []string
	reporter := 0
	for _, m := range msgs {
		if m.Role != model.RoleUser {
			continue
		}
		switch m.Name {
		case Reporter:
			reporter++
			if reporter == 1 {
				done = append(done, "News_Reporter drafted the article from the facts")
			} else if reporter == 2 {
				done = append(done, "News_Reporter revised it with the editor's feedback")
			}
		case Editor:
			done = append(done, "News_Editor reviewed it for grammar, clarity, neutrality and fairness")
		case Headliner:
			done = append(done, "Headline_Generator proposed three headlines")
		}
	}
	var b strings.Builder
	b.WriteString("Summary: ")
	switch len(done) {
	case 0:
		b.WriteString("the team has no contributions to summarise yet.")
	case 1:
		b.WriteString(done[0] + ".")
	default:
		b.WriteString(strings.Join(done[:len(done)-1], ", ") + " and " + done[len(done)-1] + ".")
	}
	if reporter > 0 {
		b.WriteString(" The article is final and ready for publication.")
	}
	b.WriteString("\nTERMINATE")
	return b.String()
}

// ---- Headline_Generator ----

func headlinerReply(msgs []model.Message) string {
	f := facts(task(msgs))
	if len(f) == 0 {
		f = []string{"Newsroom awaits the facts of the story"}
	}
	var hs []string
	seen := map[string]bool{}
	addH := func(h string) {
		if h != "" && !seen[h] && len(hs) < 3 {
			seen[h] = true
			hs = append(hs, h)
		}
	}
	for _, s := range f {
		addH(title(s))
	}
	short := headline(f[0], 6)
	addH(short + ": What We Know")
	addH(short + ": The Details")
	addH(short + ", in Brief")
	var b strings.Builder
	for i, h := range hs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strconv.Itoa(i+1) + ". " + h)
	}
	return b.String()
}

// ---- Researcher, Fact_Checker, Summary_Writer (the investigations desk) ----

func researcherReply(msgs []model.Message) string {
	f, _ := parseTask(task(msgs))
	if len(f) == 0 {
		return "Research brief: the assignment came without facts, and no source could be consulted, so nothing is confirmed yet."
	}
	var b strings.Builder
	b.WriteString("Research brief. Every fact below comes from the assignment; no other source confirmed or contradicted it:\n")
	for _, x := range f {
		b.WriteString("- " + x + " (source: the assignment)\n")
	}
	b.WriteString("Nothing beyond these facts could be confirmed.")
	return b.String()
}

// factCheckerReply sends a draft back while its claims are not attributed
// (the reporter's first draft never attributes them; the revision does).
func factCheckerReply(msgs []model.Message) string {
	draft := latestFrom(msgs, Reporter)
	if strings.Contains(draft, "according to") || strings.Contains(draft, "According to") {
		return "Every claim in the draft matches the research brief and is attributed to its source. Names, numbers and dates check out.\nCLEARED"
	}
	return "The figures and dates match the research brief, but:\n\n" +
		"1. Attribution: the claims are stated without a source. Attribute them to the information provided to the newsroom.\n" +
		"2. Keep every number exactly as given in the brief.\n\nPROBLEMS"
}

func summaryReply(msgs []model.Message) string {
	f := facts(task(msgs))
	if len(f) == 0 {
		return "The newsroom has no confirmed facts to summarise yet."
	}
	out := f[0]
	if len(f) > 1 {
		out += " " + f[1]
	}
	return out
}

// ---- generic ----

func genericReply(msgs []model.Message) string {
	last := ""
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == model.RoleUser {
			last = msgs[i].Content
			break
		}
	}
	words := strings.Fields(last)
	quote := strings.Join(words[:min(len(words), 16)], " ")
	if len(words) > 16 {
		quote += " ..."
	}
	reply := "Hello from the newsroom emulator, a local stand-in for Azure OpenAI. " +
		"This answer is generated by fixed rules, not by a language model."
	if quote != "" {
		reply += " You wrote: \"" + quote + "\"."
	}
	return reply + " Configure an Azure OpenAI or OpenAI endpoint to get real answers."
}

// ---- speaker selection ----

var selectRE = regexp.MustCompile(`select the next role from \[([^\]]*)\] to play`)

// selectionCandidates reports whether text is a speaker selection request
// and returns its candidates.
func selectionCandidates(text string) ([]string, bool) {
	m := selectRE.FindStringSubmatch(text)
	if m == nil {
		return nil, false
	}
	var out []string
	for c := range strings.SplitSeq(m[1], ",") {
		c = strings.Trim(strings.TrimSpace(c), `'"`)
		if c != "" {
			out = append(out, c)
		}
	}
	return out, len(out) > 0
}

type entry struct{ name, text string }

var planLineRE = regexp.MustCompile(`(?m)^\s*\d+\.\s*([A-Za-z0-9_-]+)\s*:\s*\S`)

// selectSpeaker follows the planner's latest plan: the k-th step after the
// plan, where k is the number of messages since the plan.
func selectSpeaker(prompt string, candidates []string) string {
	entries := history(prompt, candidates)
	choice := Planner
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].name != Planner {
			continue
		}
		plan := planLineRE.FindAllStringSubmatch(entries[i].text, -1)
		if len(plan) == 0 {
			continue
		}
		if k := len(entries) - 1 - i; k < len(plan) {
			choice = plan[k][1]
		}
		break
	}
	for _, c := range candidates {
		if c == choice {
			return c
		}
	}
	return candidates[0]
}

// history parses the conversation of a selection prompt: entries separated
// by blank lines, each starting with "<name>: ", between the first and the
// last "select the next role" lines.
func history(prompt string, candidates []string) []entry {
	loc := selectRE.FindAllStringIndex(prompt, -1)
	start := loc[0][1]
	if nl := strings.IndexByte(prompt[start:], '\n'); nl >= 0 {
		start += nl + 1
	} else {
		return nil
	}
	end := len(prompt)
	if len(loc) > 1 {
		end = strings.LastIndex(prompt[:loc[len(loc)-1][0]], "\n")
		if end < start {
			end = start
		}
	}
	names := map[string]bool{"user": true}
	for _, n := range personaNames {
		names[n] = true
	}
	for _, c := range candidates {
		names[c] = true
	}
	var out []entry
	prevBlank := true
	for line := range strings.SplitSeq(prompt[start:end], "\n") {
		if name, text, ok := strings.Cut(line, ": "); ok && prevBlank && names[name] {
			out = append(out, entry{name: name, text: text})
		} else if len(out) > 0 {
			out[len(out)-1].text += "\n" + line
		}
		prevBlank = strings.TrimSpace(line) == ""
	}
	return out
}
