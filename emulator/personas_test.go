package emulator

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/model"
)

// convo is a team conversation; view builds what one agent sends.
type convoMsg struct{ source, content string }

func agentView(prompt, self string, hist []convoMsg) []model.Message {
	msgs := []model.Message{{Role: model.RoleSystem, Content: prompt}}
	for _, m := range hist {
		switch {
		case m.source == self:
			msgs = append(msgs, model.Message{Role: model.RoleAssistant, Content: m.content})
		default:
			msgs = append(msgs, model.Message{Role: model.RoleUser, Name: m.source, Content: m.content})
		}
	}
	return msgs
}

var prompts = map[string]string{
	Reporter:  "You are News_Reporter, a reporter in a newsroom.\nWrite...",
	Editor:    "You are News_Editor, the editor of a newsroom.\nReview...",
	Planner:   "You are PlanningAgent, the planner of a newsroom team.\nBreak...",
	Headliner: "You are Headline_Generator, the headline writer of a newsroom.\nWrite...",
}

var descriptions = map[string]string{
	Planner: "Plans the work.", Reporter: "Writes articles.", Editor: "Reviews articles.", Headliner: "Writes headlines.",
}

func selectionPrompt(participants, candidates []string, hist []convoMsg) string {
	var roles, h []string
	for _, p := range participants {
		roles = append(roles, p+": "+descriptions[p])
	}
	for _, m := range hist {
		h = append(h, m.source+": "+m.content)
	}
	list := "[" + strings.Join(candidates, ", ") + "]"
	return "You are the coordinator of a newsroom team. The following roles are available:\n" + strings.Join(roles, "\n") +
		"\n\nRead the following conversation. Then select the next role from " + list + " to play. Only return the role.\n\n" +
		strings.Join(h, "\n\n") +
		"\n\nRead the above conversation. Then select the next role from " + list + " to play. Only return the role."
}

// roundRobin plays the two-agent team for n turns.
func roundRobin(task string, n int) []convoMsg {
	hist := []convoMsg{{"user", task}}
	for i := range n {
		who := []string{Reporter, Editor}[i%2]
		hist = append(hist, convoMsg{who, personaReply(agentView(prompts[who], who, hist))})
	}
	return hist
}

// selectorRun plays the selector team until TERMINATE (or max turns),
// choosing every speaker through a selection request.
func selectorRun(task string, max int) []convoMsg {
	parts := []string{Planner, Reporter, Editor, Headliner}
	hist := []convoMsg{{"user", task}}
	last := ""
	for range max {
		var cands []string
		for _, p := range parts {
			if p != last {
				cands = append(cands, p)
			}
		}
		who := personaReply([]model.Message{{Role: model.RoleSystem, Content: selectionPrompt(parts, cands, hist)}})
		reply := personaReply(agentView(prompts[who], who, hist))
		hist = append(hist, convoMsg{who, reply})
		last = who
		if strings.HasSuffix(reply, "\nTERMINATE") {
			break
		}
	}
	return hist
}

var numberRE = regexp.MustCompile(`\d[\d,.]*\d|\d`)

// numbersFrom reports the numbers in text that the task does not contain.
func inventedNumbers(text, task string) []string {
	var out []string
	for _, n := range numberRE.FindAllString(text, -1) {
		if !strings.Contains(task, n) {
			out = append(out, n)
		}
	}
	return out
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}

func paragraphs(s string) []string { return strings.Split(strings.TrimSpace(s), "\n\n") }

func TestPersonas_roundRobin(t *testing.T) {
	hist := roundRobin(testTask, 4)
	draft, feedback, revised, verdict := hist[1].content, hist[2].content, hist[3].content, hist[4].content

	t.Run("the reporter drafts a short article from the facts", func(t *testing.T) {
		paras := paragraphs(draft)
		if n := len(paras) - 1; n < 3 || n > 5 {
			t.Errorf("%d paragraphs after the title, want 3 to 5:\n%s", n, draft)
		}
		if strings.Contains(paras[0], ".") && !strings.Contains(paras[0], "$") {
			t.Errorf("title line %q reads like a sentence", paras[0])
		}
		for _, fact := range []string{"opened a new public library on Monday", "$12 million", "80,000 books", "Mayor Jane Smith", "50,000 residents"} {
			if !strings.Contains(draft, fact) {
				t.Errorf("draft misses %q", fact)
			}
		}
		if inv := inventedNumbers(draft, testTask); len(inv) > 0 {
			t.Errorf("draft invents numbers %v", inv)
		}
		if strings.Contains(draft, "Write a short news article") {
			t.Error("draft repeats the instruction")
		}
	})
	t.Run("the editor asks for a revision without approving", func(t *testing.T) {
		if lastLine(feedback) != "REVISE" {
			t.Errorf("last line %q, want REVISE", lastLine(feedback))
		}
		if strings.Contains(strings.ToUpper(feedback), "APPROVE") {
			t.Error("the REVISE reply mentions APPROVE")
		}
		for _, point := range []string{"Lead", "Attribution", "grammar", "Neutrality", "fairness", "what happens next"} {
			if !strings.Contains(feedback, point) {
				t.Errorf("feedback misses %q", point)
			}
		}
	})
	t.Run("the revision applies the feedback", func(t *testing.T) {
		if revised == draft {
			t.Fatal("the revision is the draft")
		}
		if !strings.Contains(revised, "according to") && !strings.Contains(revised, "According to") {
			t.Error("no attribution added")
		}
		if strings.Contains(revised, draftClosing) || lastParagraph(revised) != revisedClosing {
			t.Errorf("closing %q is not the revised one", lastParagraph(revised))
		}
		if inv := inventedNumbers(revised, testTask); len(inv) > 0 {
			t.Errorf("revision invents numbers %v", inv)
		}
	})
	t.Run("the editor then approves", func(t *testing.T) {
		if lastLine(verdict) != "APPROVE" || strings.Count(verdict, "APPROVE") != 1 {
			t.Errorf("verdict %q", verdict)
		}
	})
	t.Run("answers are deterministic", func(t *testing.T) {
		again := roundRobin(testTask, 4)
		for i := range hist {
			if hist[i] != again[i] {
				t.Errorf("turn %d differs", i)
			}
		}
	})
}

func lastParagraph(s string) string { p := paragraphs(s); return p[len(p)-1] }

func TestPersonas_tightenedLead(t *testing.T) {
	task := "The council very quickly approved a really large new budget on Tuesday. Spending on parks rises by 4 percent."
	hist := roundRobin(task, 3)
	lead := paragraphs(hist[3].content)[1]
	if strings.Contains(lead, "very") || strings.Contains(lead, "really") || !strings.Contains(lead, "approved a large new budget") {
		t.Errorf("revised lead %q still has filler words", lead)
	}
	if strings.Contains(hist[2].content, "APPROVE") {
		t.Error("editor feedback contains APPROVE")
	}
}

func TestPersonas_selector(t *testing.T) {
	hist := selectorRun(testTask, 20)
	var speakers []string
	for _, m := range hist[1:] {
		speakers = append(speakers, m.source)
	}
	want := []string{Planner, Reporter, Editor, Reporter, Headliner, Planner}
	if strings.Join(speakers, ",") != strings.Join(want, ",") {
		t.Fatalf("speakers %v, want %v", speakers, want)
	}
	if hist[1].content != strings.Join(planLines, "\n") {
		t.Errorf("plan = %q", hist[1].content)
	}
	for _, line := range strings.Split(hist[1].content, "\n") {
		if !regexp.MustCompile(`^\d\. (News_Reporter|News_Editor|Headline_Generator) : \S.*\.$`).MatchString(line) {
			t.Errorf("plan line %q is not in the 'N. <agent> : <task>' format", line)
		}
	}
	if lastLine(hist[len(hist)-1].content) != "TERMINATE" || strings.Count(hist[len(hist)-1].content, "TERMINATE") != 1 {
		t.Errorf("summary %q", hist[len(hist)-1].content)
	}
	heads := strings.Split(hist[5].content, "\n")
	if len(heads) != 3 {
		t.Fatalf("headlines %q", hist[5].content)
	}
	for i, h := range heads {
		if !strings.HasPrefix(h, strconv.Itoa(i+1)+". ") {
			t.Errorf("headline %q is not numbered %d", h, i+1)
		}
	}
	if inv := inventedNumbers(hist[5].content, testTask+" 1. 2. 3."); len(inv) > 0 {
		t.Errorf("headlines invent numbers %v", inv)
	}
}

func TestPersonas_selection(t *testing.T) {
	all := []string{Planner, Reporter, Editor, Headliner}
	plan := strings.Join(planLines, "\n")
	tests := []struct {
		name       string
		candidates []string
		hist       []convoMsg
		want       string
	}{
		{"no plan yet", all, []convoMsg{{"user", "task"}}, Planner},
		{"first step", []string{Reporter, Editor, Headliner}, []convoMsg{{"user", "task"}, {Planner, plan}}, Reporter},
		{"second step", []string{Planner, Editor, Headliner}, []convoMsg{{"user", "task"}, {Planner, plan}, {Reporter, "Title\n\nPara one.\n\nPara two."}}, Editor},
		{"multi-paragraph messages count once", all, []convoMsg{{"user", "task"}, {Planner, plan}, {Reporter, "A\n\nB\n\nC"}, {Editor, "1. x\n\n2. y\nREVISE"}}, Reporter},
		{"plan done", []string{Planner, Reporter, Editor}, []convoMsg{{"user", "t"}, {Planner, plan}, {Reporter, "a"}, {Editor, "b"}, {Reporter, "c"}, {Headliner, "d"}}, Planner},
		{"answer not a candidate", []string{Reporter, Editor, Headliner}, []convoMsg{{"user", "task"}}, Reporter},
		{"latest plan wins", all, []convoMsg{{"user", "t"}, {Planner, "1. News_Editor : Review.\n2. Headline_Generator : Headlines."}, {Editor, "ok"}, {Planner, plan}}, Reporter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := personaReply([]model.Message{{Role: model.RoleSystem, Content: selectionPrompt(all, tt.candidates, tt.hist)}})
			if got != tt.want {
				t.Errorf("selected %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPersonas_generic(t *testing.T) {
	msgs := []model.Message{{Role: model.RoleUser, Content: "What is the capital of France?"}}
	got := personaReply(msgs)
	if !strings.Contains(got, "newsroom emulator") || !strings.Contains(got, "capital of France") || got != personaReply(msgs) {
		t.Errorf("generic reply %q", got)
	}
}

func TestPersonas_topicOnlyTask(t *testing.T) {
	task := "Write a short news article about the launch of a community solar farm in Riverside."
	hist := roundRobin(task, 3)
	draft, revised := hist[1].content, hist[3].content
	if paras := paragraphs(draft); len(paras) != 4 || !strings.HasPrefix(paras[1], "This report covers the launch of a community solar farm in Riverside") {
		t.Errorf("draft:\n%s", draft)
	}
	if inv := inventedNumbers(draft+revised, task); len(inv) > 0 {
		t.Errorf("invented numbers %v", inv)
	}
	if revised == draft || lastParagraph(revised) != revisedClosing {
		t.Errorf("revision:\n%s", revised)
	}
}

func TestFacts(t *testing.T) {
	tests := []struct {
		task string
		want []string
	}{
		{"Write a short news article about: A fire broke out at 5 p.m. on Main St. in Dover. No one was hurt.",
			[]string{"A fire broke out at 5 p.m. on Main St. in Dover.", "No one was hurt."}},
		{"Write an article about the new bridge opening in Kent", []string{"The new bridge opening in Kent."}},
		{"Dr. Smith won the 2.5 million prize! Fans cheered", []string{"Dr. Smith won the 2.5 million prize!", "Fans cheered."}},
		{"- Sales rose 3%.\n- Costs fell.", []string{"Sales rose 3%.", "Costs fell."}},
	}
	for _, tt := range tests {
		t.Run(tt.task, func(t *testing.T) {
			if got := facts(tt.task); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("facts = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestClosingsDoNotEditorialise keeps opinion out of the reporter's closing
// lines and out of what the editor asks for.
func TestClosingsDoNotEditorialise(t *testing.T) {
	opinion := regexp.MustCompile(`(?i)\b(encouraging|positive|welcome|exciting|promising|good news|great|unfortunately|sadly|hopefully)\b`)
	for _, closing := range []string{draftClosing, revisedClosing, topicBody, topicRevisedBody} {
		if opinion.MatchString(closing) {
			t.Errorf("closing %q gives an opinion", closing)
		}
	}
	hist := roundRobin(testTask, 4)
	for _, h := range hist {
		if m := opinion.FindString(h.content); m != "" {
			t.Errorf("%s writes %q:\n%s", h.source, m, h.content)
		}
	}
}

// TestHeadline_CompleteSentences checks that a headline is the start of its
// sentence cut only at a clause boundary or before a trailing phrase, never
// in the middle of a clause ("The city council approved a new").
func TestHeadline_CompleteSentences(t *testing.T) {
	for _, s := range []string{
		"The city council approved a new bike lane on Main Street on Tuesday.",
		"Construction starts in March and costs 2.1 million dollars.",
		"A storm closed the harbour bridge for six hours, stranding hundreds of commuters.",
		"The regional library will extend its opening hours from next month after a survey of readers.",
		"Officials confirmed that the water supply is safe to drink.",
	} {
		words := strings.Fields(strings.TrimRight(s, "."))
		for _, max := range []int{6, 12} {
			h := headline(s, max)
			hw := strings.Fields(h)
			if len(hw) < 4 || !strings.EqualFold(strings.Join(hw, " "), strings.TrimRight(strings.Join(words[:len(hw)], " "), ",;")) {
				t.Errorf("headline(%q, %d) = %q: not the start of the sentence", s, max, h)
				continue
			}
			if len(hw) < len(words) {
				next := strings.ToLower(words[len(hw)])
				if !trailingPrepositions[next] && !strings.HasSuffix(words[len(hw)-1], ",") {
					t.Errorf("headline(%q, %d) = %q: cut inside a clause, before %q", s, max, h, next)
				}
			}
		}
	}
	reply := headlinerReply([]model.Message{{Role: model.RoleUser, Content: testTask}})
	for _, line := range strings.Split(reply, "\n") {
		if last := strings.Fields(line); smallWords[strings.ToLower(last[len(last)-1])] {
			t.Errorf("headline %q ends with %q", line, last[len(last)-1])
		}
	}
}
