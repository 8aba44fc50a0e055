package desk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
	"github.com/newsroom-dev/newsroom/tool"
)

// pages is a fetch_url tool over fixed documents, for runs that must not
// leave the machine (package tool/web has the real one and its own tests).
func pages(t *testing.T, docs map[string][2]string) tool.Tool {
	t.Helper()
	type args struct {
		URL string `json:"url"`
	}
	return tool.MustFunc(emulator.ToolFetchURL, "Fetch a web page.", func(_ context.Context, a args) (tool.Result, error) {
		d, ok := docs[a.URL]
		if !ok {
			return tool.Result{}, context.DeadlineExceeded
		}
		content := `{"url":"` + a.URL + `","title":"` + d[0] + `","text":"` + d[1] + `"}`
		return tool.Result{Content: content, Source: tool.NewSource(a.URL, d[0], d[1], time.Now())}, nil
	})
}

// readFeed is a read_feed the tests never expect to be called.
var readFeed = tool.MustFunc(emulator.ToolReadFeed, "Read a feed.", func(context.Context, struct {
	URL string `json:"url"`
}) (tool.Result, error) {
	return tool.Result{}, context.Canceled
})

func withPages(t *testing.T, docs map[string][2]string) []tool.Tool {
	return []tool.Tool{pages(t, docs), readFeed}
}

func runDesk(t *testing.T, cfg desk.Config, task string, opts ...team.RunOption) (*team.Result, []team.Event) {
	t.Helper()
	_, c := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	cfg.Client = c
	tm, err := desk.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var events []team.Event
	res, err := team.Collect(task, team.Checkpoint{}, tm.Stream(context.Background(), task, append(opts, team.WithStreaming(true))...), func(e team.Event) {
		events = append(events, e)
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, events
}

func count(events []team.Event, typ team.EventType) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestDesk_ReporterFetchesTheTaskURLsCitesThemAndPassesGrounding(t *testing.T) {
	t.Parallel()
	docs := map[string][2]string{
		"https://example.org/council": {"Council vote", "The council approved the harbour plan on Tuesday. The vote was 7 to 2 in favour of Mayor Ana Ruiz's proposal."},
		"https://example.net/budget":  {"Budget", "The harbour plan costs 14.5 million euros over three years."},
	}
	for _, kind := range []string{desk.RoundRobin, desk.Selector} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			res, events := runDesk(t, desk.Config{Team: kind, Tools: withPages(t, docs)},
				"Write about https://example.org/council and https://example.net/budget")
			if count(events, team.EventToolCall) != 2 || count(events, team.EventToolResult) != 2 {
				t.Fatalf("%d tool calls, %d results, want 2 each (fetched once, reused on revision)",
					count(events, team.EventToolCall), count(events, team.EventToolResult))
			}
			if len(res.Sources) != 2 || res.Sources[0].ID != 1 || res.Sources[0].URL != "https://example.org/council" ||
				res.Sources[1].Title != "Budget" || len(res.Sources[1].Hash) != 64 {
				t.Fatalf("sources %+v", res.Sources)
			}
			article := desk.ArticleOf(res.Messages).Body
			for _, want := range []string{"[1]", "[2]", "14.5 million euros"} {
				if !strings.Contains(article, want) {
					t.Errorf("article lacks %q:\n%s", want, article)
				}
			}
			if res.Grounding == nil || res.Grounding.Checked == 0 || len(res.Grounding.Unsupported) != 0 {
				t.Fatalf("grounding %+v", res.Grounding)
			}
			if k := termination.KindOf(res.StopReason); k != termination.KindVerdict && k != termination.KindTextMention {
				t.Fatalf("stop %q", res.StopReason)
			}
		})
	}
}

func TestDesk_EmulatorArticlesFromFactsPassGrounding(t *testing.T) {
	t.Parallel()
	tasks := []string{
		"Facts: The city council approved a new bike lane on Main Street on Tuesday. Construction starts in March and costs 2.1 million dollars.",
		"Facts: Springfield's harbour library opens on Saturday, 14 June, with 12,000 books. Director Léa Martin said: \"Everyone is welcome here.\" About 45% of the collection is new.",
	}
	for _, kind := range []string{desk.RoundRobin, desk.Selector} {
		for _, task := range tasks {
			res, _ := runDesk(t, desk.Config{Team: kind}, task)
			if res.Grounding == nil || res.Grounding.Checked == 0 || len(res.Grounding.Unsupported) != 0 {
				t.Errorf("%s, %q: grounding %+v\n%s", kind, task, res.Grounding, desk.ArticleOf(res.Messages).Body)
			}
			if termination.KindOf(res.StopReason) == termination.KindGrounding {
				t.Errorf("%s: stop %q", kind, res.StopReason)
			}
		}
	}
}

func TestDesk_TopicTaskIsNotCheckedAndSaysSo(t *testing.T) {
	t.Parallel()
	res, _ := runDesk(t, desk.Config{}, "Write about the opening of the new harbour library.")
	if res.Grounding == nil || res.Grounding.Checked != 0 || res.Grounding.Skipped != "no sources" {
		t.Fatalf("grounding %+v", res.Grounding)
	}
}

func TestDesk_GroundingCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	task := "Facts: The bridge reopened on Monday."
	res, _ := runDesk(t, desk.Config{NoGrounding: true}, task)
	if res.Grounding != nil {
		t.Fatalf("desk option: grounding %+v", res.Grounding)
	}
	res, _ = runDesk(t, desk.Config{}, task, team.WithGrounding(nil))
	if res.Grounding != nil {
		t.Fatalf("run option: grounding %+v", res.Grounding)
	}
}

// inventing is a reporter that adds a figure no source has until told.
func inventing(fixAfter int) model.Client {
	n := 0
	return model.ClientFunc(func(_ context.Context, req *model.Request) (*model.Response, error) {
		text := "APPROVE"
		if req.Meta.Agent == desk.Reporter {
			n++
			text = "Bridge Reopens\n\nThe bridge reopened on Monday. Repairs cost 4.2 million dollars."
			if fixAfter > 0 && n > fixAfter {
				text = "Bridge Reopens\n\nThe bridge reopened on Monday."
			}
		}
		return &model.Response{Content: text, FinishReason: "stop", Usage: model.Usage{Requests: 1}}, nil
	})
}

func TestDesk_GroundingHoldsAnApprovalOfAnInventedFigure(t *testing.T) {
	t.Parallel()
	task := "Facts: The bridge reopened on Monday."
	tm, _ := desk.New(desk.Config{Client: inventing(1)})
	var events []team.Event
	res, err := team.Collect(task, team.Checkpoint{}, tm.Stream(context.Background(), task), func(e team.Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, m := range res.Messages {
		sources = append(sources, m.Source)
	}
	if got := strings.Join(sources, ","); got != "News_Reporter,News_Editor,Grounding_Check,News_Reporter,News_Editor" {
		t.Fatalf("messages %s", got)
	}
	if !strings.Contains(res.Messages[2].Content, "4.2 million") {
		t.Fatalf("feedback %q", res.Messages[2].Content)
	}
	if termination.KindOf(res.StopReason) != termination.KindVerdict || len(res.Grounding.Unsupported) != 0 || count(events, team.EventGrounding) != 2 {
		t.Fatalf("stop %q grounding %+v", res.StopReason, res.Grounding)
	}

	// A reporter that never fixes it runs into the cap: stop kind grounding.
	tm, _ = desk.New(desk.Config{Client: inventing(0), MaxMessages: 7})
	res, err = team.Run(context.Background(), tm, task)
	if err != nil {
		t.Fatal(err)
	}
	if termination.KindOf(res.StopReason) != termination.KindGrounding || len(res.Grounding.Unsupported) != 1 {
		t.Fatalf("stop %q grounding %+v", res.StopReason, res.Grounding)
	}
}

func TestDesk_ResumedRunDoesNotFetchAgain(t *testing.T) {
	t.Parallel()
	docs := map[string][2]string{
		"https://example.org/a": {"A", "The museum reopened on Sunday after 18 months of repairs."},
		"https://example.org/b": {"B", "Entry stays free for residents."},
	}
	var fetches atomic.Int32
	inner := pages(t, docs)
	counting := tool.MustFunc(emulator.ToolFetchURL, "Fetch a web page.", func(ctx context.Context, a struct {
		URL string `json:"url"`
	}) (tool.Result, error) {
		fetches.Add(1)
		raw, _ := json.Marshal(a)
		return inner.Call(ctx, raw)
	})
	_, c := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	tm, _ := desk.New(desk.Config{Client: c, Tools: []tool.Tool{counting, readFeed}})
	task := "Write about https://example.org/a and https://example.org/b"
	// The process dies right after both results were stored.
	var cp team.Checkpoint
	results := 0
	for e, err := range tm.Stream(context.Background(), task) {
		if err != nil {
			t.Fatal(err)
		}
		cp.Apply(e)
		if e.Type == team.EventToolResult {
			if results++; results == 2 {
				break
			}
		}
	}
	if len(cp.ToolResults) != 2 || len(cp.Sources) != 2 || cp.NextSpeaker != desk.Reporter {
		t.Fatalf("checkpoint: %d tool results, %d sources, next %q", len(cp.ToolResults), len(cp.Sources), cp.NextSpeaker)
	}
	res, err := team.Run(context.Background(), tm, task, team.WithCheckpoint(cp))
	if err != nil {
		t.Fatal(err)
	}
	if fetches.Load() != 2 {
		t.Fatalf("%d fetches, want 2: a stored result was fetched again", fetches.Load())
	}
	if len(res.Sources) != 2 || !strings.Contains(desk.ArticleOf(res.Messages).Body, "[2]") {
		t.Fatalf("sources %+v, article %q", res.Sources, desk.ArticleOf(res.Messages).Body)
	}
}

// metro is a desk whose writer is not called News_Reporter and whose file
// does not name it: the writer is its first agent.
const metro = `name: metro
kind: roundrobin
agents:
  - name: Metro_Writer
    description: Writes the metro desk's stories.
    prompt: You are the News_Reporter of the metro desk.
  - name: News_Editor
    description: Reviews the story.
    prompt: You are News_Editor, the metro desk's editor. End with APPROVE or REVISE.
termination:
  any:
    - verdict: {agent: News_Editor, word: APPROVE}
    - max_messages: 9
`

func TestSpec_Writer(t *testing.T) {
	t.Parallel()
	parse := func(src string) *desk.Spec {
		t.Helper()
		s, err := desk.Parse("t.yaml", []byte(src), desk.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	shipped := desk.NewRegistry()
	for _, name := range desk.Teams {
		d, _ := shipped.Get(name)
		if got := d.Spec.Writer(); got != desk.Reporter {
			t.Errorf("shipped desk %s: writer %q, want %s", name, got, desk.Reporter)
		}
	}
	if got := parse(metro).Writer(); got != "Metro_Writer" {
		t.Errorf("first agent: writer %q", got)
	}
	named := strings.Replace(metro, "termination:", "article: {body: News_Editor}\ntermination:", 1)
	if got := parse(named).Writer(); got != "News_Editor" {
		t.Errorf("article.body: writer %q", got)
	}
	planned := `name: planned
kind: selector
agents:
  - {name: Planner, description: plans, prompt: You plan.}
  - {name: Writer, description: writes, prompt: You write.}
termination: {max_messages: 4}
selector: {planner: Planner}
`
	if got := parse(planned).Writer(); got != "Writer" {
		t.Errorf("selector with a planner: writer %q, want the first agent after the planner", got)
	}
}

func TestDesk_GroundingSendsClaimsBackToTheDesksOwnWriter(t *testing.T) {
	t.Parallel()
	s, err := desk.Parse("metro.yaml", []byte(metro), desk.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The writer invents a figure in its first draft only.
	drafts := 0
	client := model.ClientFunc(func(_ context.Context, req *model.Request) (*model.Response, error) {
		text := "APPROVE"
		if req.Meta.Agent == "Metro_Writer" {
			drafts++
			text = "Bridge Reopens\n\nThe bridge reopened on Monday."
			if drafts == 1 {
				text += " Repairs cost 4.2 million dollars."
			}
		}
		return &model.Response{Content: text, FinishReason: "stop", Usage: model.Usage{Requests: 1}}, nil
	})
	tm, err := desk.New(desk.Config{Spec: s, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	task := "Facts: The bridge reopened on Monday."
	res, err := team.Run(context.Background(), tm, task)
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, m := range res.Messages {
		sources = append(sources, m.Source)
	}
	if got := strings.Join(sources, ","); got != "Metro_Writer,News_Editor,Grounding_Check,Metro_Writer,News_Editor" {
		t.Fatalf("messages %s, want the held approval sent back to Metro_Writer", got)
	}
	if !strings.Contains(res.Messages[2].Content, "4.2 million") || res.Grounding == nil || res.Grounding.Author != "Metro_Writer" ||
		res.Grounding.Checked == 0 || len(res.Grounding.Unsupported) != 0 {
		t.Fatalf("feedback %q, grounding %+v", res.Messages[2].Content, res.Grounding)
	}
	// The check a capped run's output makes reads the same writer.
	g := s.GroundingCheck(res.Messages[:1], team.MaterialOf(task, nil))
	if g.Author != "Metro_Writer" || len(g.Unsupported) != 1 || g.Unsupported[0] != "4.2 million" {
		t.Fatalf("check of the first draft: %+v", g)
	}
	if body := s.ArticleOf(res.Messages).Body; body != "Bridge Reopens\n\nThe bridge reopened on Monday." {
		t.Fatalf("article %q", body)
	}
}

func TestNew_ToolLoopSettingsFromTheFile(t *testing.T) {
	t.Parallel()
	src := `name: loops
kind: roundrobin
agents:
  - name: Digger
    description: Fetches until told to stop.
    prompt: You are Digger.
    tools: [fetch_url]
    max_tool_rounds: 2
  - name: Thinker
    description: Fetches once, then reflects.
    prompt: You are Thinker.
    tools: [fetch_url]
    reflect_on_tool_use: true
termination: {max_messages: 2}
`
	s, err := desk.Parse("loops.yaml", []byte(src), desk.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A model that asks for a fetch whenever it may.
	var mu sync.Mutex
	choices := map[string][]string{}
	client := model.ClientFunc(func(_ context.Context, req *model.Request) (*model.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		choices[req.Meta.Agent] = append(choices[req.Meta.Agent], string(req.ToolChoice))
		if req.ToolChoice == model.ToolChoiceNone {
			return &model.Response{Content: "done", FinishReason: "stop"}, nil
		}
		return &model.Response{ToolCalls: []model.ToolCall{{ID: fmt.Sprint("c", len(choices[req.Meta.Agent])), Name: emulator.ToolFetchURL,
			Arguments: `{"url":"https://example.org/a"}`}}, FinishReason: "tool_calls"}, nil
	})
	docs := map[string][2]string{"https://example.org/a": {"A", "The museum reopened on Sunday."}}
	tm, err := desk.New(desk.Config{Spec: s, Client: client, Tools: withPages(t, docs)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := team.Run(context.Background(), tm, "Facts: the museum reopened."); err != nil {
		t.Fatal(err)
	}
	none := string(model.ToolChoiceNone)
	want := map[string][]string{"Digger": {"", "", none}, "Thinker": {"", none}}
	if diff := cmp.Diff(want, choices); diff != "" {
		t.Fatalf("tool_choice per call (-want +got):\n%s", diff)
	}
}

func TestSpec_FinalGrounding(t *testing.T) {
	t.Parallel()
	d, ok := desk.NewRegistry().Get(desk.RoundRobin)
	if !ok {
		t.Fatal("no roundrobin desk")
	}
	spec := *d.Spec
	draft := []agent.Message{{Source: desk.Reporter, Content: "Bridge Reopens\n\nThe bridge reopened on Monday. Repairs cost 4.2 million dollars."}}
	facts := "Facts: The bridge reopened on Monday."

	if g := spec.FinalGrounding(facts, draft); g == nil || g.Checked == 0 || len(g.Unsupported) != 1 || g.Unsupported[0] != "4.2 million" || g.Author != desk.Reporter {
		t.Errorf("facts task: %+v, want the invented figure by %s", g, desk.Reporter)
	}
	if g := spec.FinalGrounding("Write about the bridge.", draft); g == nil || g.Checked != 0 || g.Skipped != "no sources" {
		t.Errorf("topic task: %+v, want skipped: no sources", g)
	}
	// A document the run read supports the figure.
	read := append([]agent.Message{{Source: team.SourceDocuments, Content: "[1] The bridge reopened on Monday after repairs that cost 4.2 million dollars."}}, draft...)
	if g := spec.FinalGrounding("Write about the bridge.", read); g == nil || g.Checked == 0 || len(g.Unsupported) != 0 {
		t.Errorf("with a document: %+v, want every claim found", g)
	}
	off := false
	spec.Grounding = &off
	if g := spec.FinalGrounding(facts, draft); g != nil {
		t.Errorf("a desk with grounding off: %+v, want none", g)
	}
}
