package eval

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// sampleDocument is a document of two variants over the fixture article,
// one good and one with an invented figure.
func sampleDocument(t *testing.T) *Document {
	t.Helper()
	s := &Suite{Name: "fixtures", Version: "1", Path: "suite.yaml", Cases: []Case{{Name: "council", Task: fixtureMaterial.Task, Expect: fixtureExpect}}}
	good := Output{Article: Article{Headline: goodHeadline, Body: goodBody}, Sources: fixtureMaterial.Sources,
		StopReason: "verdict APPROVE from News_Editor", Messages: 4, Calls: 4, PromptTokens: 1000, CompletionTokens: 300, CostUSD: 0.01}
	bad := good
	bad.Article.Body = strings.Replace(goodBody, "in March [2]", "in March with 300 workers [2]", 1)
	bad.CostUSD = 0.02
	va, vb := Variant{Desk: "roundrobin"}, Variant{Desk: "selector"}
	d, err := NewDocument(s, []Variant{va, vb}, []Result{Score(&s.Cases[0], va, 1, good), Score(&s.Cases[0], vb, 1, bad)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWriteHTML_SelfContainedMarksFailedChecksAndPassesAxe(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, sampleDocument(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<svg", "<mark title=\"claim_support: found in neither the task nor a source\">300</mark>", "selector", "claim_support"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "<script", "<link"} {
		if strings.Contains(page, bad) {
			t.Errorf("report is not self-contained: holds %q", bad)
		}
	}
	ctx := browser(t)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(b.Bytes())
	}))
	defer ts.Close()
	if _, err := chromedp.Run(ctx, chromedp.Navigate(ts.URL)); err != nil {
		t.Fatal(err)
	}
	marks, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('mark').length`))
	if err != nil || marks == 0 {
		t.Fatalf("marks in the page: %d (%v)", marks, err)
	}
	axe := axeSource(t)
	if axe == "" {
		return
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axe+";undefined")); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document, {
		runOnly: {type: 'tag', values: ['wcag2a','wcag2aa','wcag21a','wcag21aa']},
		rules: {region: {enabled: true}},
		resultTypes: ['violations'],
	}).then(r => r.violations.map(v => v.id + ': ' + v.help + ' at ' + v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(', ')))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range got {
		t.Errorf("accessibility: %s", v)
	}
}

// axeSource is the axe-core script NEWSROOM_AXE_JS names (scripts/test.sh
// sets it), or the copy it installs in the user cache.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("NEWSROOM_AXE_JS")
	if path == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			path = filepath.Join(dir, "newsroom", "axe-core-4.14.1", "node_modules", "axe-core", "axe.min.js")
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("axe-core not found (%v): scripts/test.sh installs it", err)
		}
		t.Logf("axe-core not found (%v): the accessibility check is skipped", err)
		return ""
	}
	return string(b)
}

// browser starts a headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found: %v", err)
		}
		t.Skipf("chromium not found (%v)", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancel(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(tctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("starting chromium: %v", err)
		}
		t.Skipf("chromium does not start here: %v", err)
	}
	return tctx
}

func TestWriteMarkdown_ListsVariantsAndFailedChecks(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, sampleDocument(t)); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"| metric | roundrobin | selector |", "| claim_support | 1 |", "**council** on selector", `claim_support: found in neither the task nor a source ("300")`} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
