package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/model"
)

// hostile is appended to every reporter reply (and streamed as a delta): a
// page that renders model output as HTML would run it.
const hostile = "\n\nSee <script>window.__pwned = 'script'</script> and <img src=x onerror=\"window.__pwned = 'img'\"> **now**."

// hostileReporter makes the reporter's replies carry HTML and script.
func hostileReporter(next model.Client) model.Client {
	return model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
		resp, err := next.Complete(ctx, req)
		if err != nil || req.Meta.Agent != desk.Reporter {
			return resp, err
		}
		if req.OnDelta != nil {
			req.OnDelta(model.Delta{Text: hostile})
		}
		out := *resp
		out.Content += hostile
		return &out, nil
	})
}

// browser starts a fresh headless Chromium for the test, with extra options.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if _, statErr := os.Stat("/usr/bin/chromium"); statErr == nil {
			path = "/usr/bin/chromium"
		} else if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found: %v", err)
		} else {
			t.Skipf("chromium not found (%v); set CI=true to make this a failure", err)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	tctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(tctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("starting chromium: %v", err)
		}
		t.Skipf("chromium does not start here: %v", err)
	}
	return tctx
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// text is the visible text of the first element sel matches, read in one
// evaluation (a node looked up first and read after could be replaced by a
// re-render in between); it fails the test when nothing matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	q, err := json.Marshal(sel)
	must(t, "selector "+sel, err)
	s := eval[*string](t, ctx, `(() => { const el = document.querySelector(`+string(q)+`); return el ? el.innerText : null; })()`)
	if s == nil {
		t.Fatalf("text of %s: no such element", sel)
	}
	return *s
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	must(t, "evaluate "+js, err)
	return v
}

func waitFor(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
	must(t, "waiting for "+what, err)
}

func TestE2E_JournalistRunsAStory(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOpts{wrap: hostileReporter})
	e.client.holdFrom(2) // the reporter's draft arrives; the editor's reply waits

	var mu sync.Mutex
	var exceptions []string
	must(t, "listen", chromedp.Listen(ctx, func(ev any) {
		if ex, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			exceptions = append(exceptions, ex.ExceptionDetails.Text+" "+fmt.Sprint(ex.ExceptionDetails.Exception))
			mu.Unlock()
		}
	}))

	// First visit: the key panel asks for the key.
	must(t, "open the page", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#key-input")),
		chromedp.SendKeys(chromedp.CSS("#key-input"), e.user),
		chromedp.Click(chromedp.CSS("#key-form button[type=submit]")),
		chromedp.WaitNotVisible(chromedp.CSS("#key-panel")),
	))
	if got := eval[string](t, ctx, `localStorage.getItem('newsroom.apiKey')`); got != e.user {
		t.Errorf("the key is not kept in localStorage")
	}
	if !eval[bool](t, ctx, `!document.getElementById('emulator-banner').hidden`) {
		t.Error("the emulator banner is not shown")
	}
	listenCSP(t, ctx)

	// Submit a story.
	must(t, "submit", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#task"), "City council approves new cycle lanes on Main Street. Work starts in March. The project costs 2.4 million euros."),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#stream li.msg")),
	))
	// Live: the reporter's message is there while the run is still running.
	waitFor(t, ctx, "the running state", `document.getElementById('run-status').textContent === 'running'`)
	if n := eval[int](t, ctx, `document.querySelectorAll('#stream li.msg').length`); n != 1 {
		t.Errorf("messages shown mid-run = %d, want 1", n)
	}
	if got := text(t, ctx, "#m-messages"); got != "1 / 10" {
		t.Errorf("message counter = %q, want 1 / 10", got)
	}
	if got := text(t, ctx, "#stream li.msg .speaker"); got != "Reporter" {
		t.Errorf("speaker = %q", got)
	}
	if got := text(t, ctx, "#m-stop"); !strings.Contains(got, "APPROVE") {
		t.Errorf("stop condition = %q, want the editor's APPROVE rule", got)
	}
	if eval[bool](t, ctx, `document.getElementById('cancel').hidden`) {
		t.Error("no cancel button on a running run")
	}
	if cost := text(t, ctx, "#m-cost"); !strings.HasPrefix(cost, "$0.00") || strings.Trim(cost, "$0.") == "" {
		t.Errorf("cost counter = %q, want the run's few thousandths of a dollar", cost)
	}
	if tokens := text(t, ctx, "#m-tokens"); tokens == "0" || !strings.HasSuffix(tokens, " reasoning)") {
		t.Errorf("token counter = %q, want it moving and showing the GPT-5 deployment's reasoning tokens", tokens)
	}
	waitFor(t, ctx, "the live bubble of the editor's turn", `!document.getElementById('live').hidden && document.getElementById('live-name').textContent === 'Editor'`)
	dir := filepath.Join("testdata", "artifacts")
	must(t, "mkdir", os.MkdirAll(dir, 0o755))
	live, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	must(t, "live screenshot", err)
	must(t, "save live screenshot", os.WriteFile(filepath.Join(dir, "live-run.png"), live, 0o644))
	e.client.release()

	// The finished article.
	waitFor(t, ctx, "the finished run", `document.getElementById('run-status').textContent === 'succeeded' && !document.getElementById('article-wrap').hidden`)
	article := text(t, ctx, "#article")
	if !strings.Contains(article, "cycle lanes") {
		t.Errorf("article text = %q", article)
	}
	if !strings.Contains(article, "<script>") || !strings.Contains(article, "onerror") {
		t.Errorf("the hostile HTML is not shown as text: %q", article)
	}
	if h := text(t, ctx, "#run-title"); !strings.Contains(h, "Cycle Lanes") {
		t.Errorf("run title = %q, want the article's headline", h)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#article p').length`); n < 2 {
		t.Errorf("article not formatted: %d paragraphs", n)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#article strong').length`); n < 1 {
		t.Error("**bold** not rendered")
	}
	if got := text(t, ctx, "#m-stop"); !strings.Contains(got, "APPROVE") {
		t.Errorf("final stop reason = %q", got)
	}
	if !eval[bool](t, ctx, `document.getElementById('cancel').hidden`) {
		t.Error("cancel button still shown on a finished run")
	}
	checkNotExecuted(t, ctx)

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(t, "screenshot", err)
	must(t, "save screenshot", os.WriteFile(filepath.Join(dir, "finished-run.png"), shot, 0o644))

	// Copy button.
	must(t, "copy", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#copy"))))
	waitFor(t, ctx, "the copy status", `document.getElementById('copy-status').textContent !== ''`)

	// Download: the file is the article's Markdown.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const o = URL.createObjectURL; URL.createObjectURL = b => { window.__dl = b; return o.call(URL, b); }; })()`))
	must(t, "hook downloads", err)
	must(t, "download", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#download"))))
	waitFor(t, ctx, "the download", `!!window.__dl`)
	md, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__dl.text()`, chromedp.EvalAwaitPromise))
	must(t, "download text", err)
	runID := eval[string](t, ctx, `document.getElementById('run-id').textContent`)
	if want := e.get(e.user, runID).Article; md != want {
		t.Errorf("downloaded Markdown differs from the run's article:\n%s\nwant\n%s", md, want)
	}

	// Reopen from history after a reload (no hash: from the list).
	must(t, "reload", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`.history-item[data-id="`+runID+`"]`)),
		chromedp.Click(chromedp.CSS(`.history-item[data-id="`+runID+`"]`)),
	))
	// The article shows at once; the messages are replayed below it.
	waitFor(t, ctx, "the reopened run", `!document.getElementById('article-wrap').hidden && document.getElementById('run-id').textContent === '`+runID+`' && !!document.querySelector('#stream .n-end')`)
	if again := text(t, ctx, "#article"); again != article {
		t.Errorf("reopened article differs:\n%s\nwant\n%s", again, article)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#stream li.msg').length`); n < 2 {
		t.Errorf("reopened run shows %d messages", n)
	}
	checkNotExecuted(t, ctx)

	// The picker offers the service's other desks (GET /v1/teams) too.
	waitFor(t, ctx, "the investigations desk in the team picker", `!!document.querySelector('input[name=team][value=investigations]')`)

	// The planner-led team, on a phone-sized screen.
	must(t, "phone viewport", chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)))
	must(t, "selector run", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`input[name=team][value=selector]`)),
		chromedp.SendKeys(chromedp.CSS("#task"), "Harbour reopens after storm repairs. Ferries resume Monday."),
		chromedp.Click(chromedp.CSS("#submit")),
	))
	waitFor(t, ctx, "the selector run", `document.getElementById('run-team').textContent === 'Planner-led desk' && document.getElementById('run-status').textContent === 'succeeded' && !document.getElementById('article-wrap').hidden`)
	speakers := eval[[]string](t, ctx, `[...new Set([...document.querySelectorAll('#stream .raw-name')].map(e => e.textContent))]`)
	if len(speakers) < 3 {
		t.Errorf("selector run speakers = %v", speakers)
	}
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("page is %dpx wide on a 390px phone: horizontal scrolling", w)
	}
	_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	must(t, "scroll", err)
	phone, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	must(t, "phone screenshot", err)
	must(t, "save phone screenshot", os.WriteFile(filepath.Join(dir, "finished-run-phone.png"), phone, 0o644))
	checkNotExecuted(t, ctx)

	mu.Lock()
	defer mu.Unlock()
	if len(exceptions) > 0 {
		t.Errorf("page exceptions: %v", exceptions)
	}
}

// checkNotExecuted asserts that no hostile markup became DOM and nothing ran.
// listenCSP notes in window.__csp the directives the page violates from now
// on, for checkNotExecuted.
func listenCSP(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective)); true`))
	must(t, "csp listener", err)
}

// openRun opens run id's page with e's reporter key, then listens for CSP
// violations.
func openRun(t *testing.T, ctx context.Context, e *env, id string) {
	t.Helper()
	must(t, "open the run", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('newsroom.apiKey', '`+e.user+`')`),
		chromedp.Navigate(e.ts.URL+"/#run="+id),
		chromedp.Reload(),
	))
	listenCSP(t, ctx)
}

func checkNotExecuted(t *testing.T, ctx context.Context) {
	t.Helper()
	if got := eval[string](t, ctx, `String(window.__pwned)`); got != "undefined" {
		t.Errorf("model output executed: window.__pwned = %s", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('main script, main img, main [onerror]').length`); n != 0 {
		t.Errorf("model output became %d script/img elements", n)
	}
	if v := eval[[]string](t, ctx, `window.__csp || []`); len(v) != 0 {
		t.Errorf("CSP violations (the page tried something the policy forbids): %v", v)
	}
}

func TestE2E_CancelFromThePage(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOpts{})
	e.client.holdFrom(2)
	must(t, "set key", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('newsroom.apiKey', '`+e.user+`')`),
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.SendKeys(chromedp.CSS("#task"), "Bakery wins regional prize."),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#stream li.msg")),
		chromedp.WaitVisible(chromedp.CSS("#cancel")),
		chromedp.Click(chromedp.CSS("#cancel")),
	))
	waitFor(t, ctx, "the cancelled run", `document.getElementById('run-status').textContent === 'cancelled'`)
	if got := text(t, ctx, "#m-stop"); got != cancelReason {
		t.Errorf("stop = %q, want %q", got, cancelReason)
	}
}
