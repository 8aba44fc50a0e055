package eval

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"sort"
	"strings"
)

// WriteHTML writes a self-contained report (inline CSS and SVG, nothing
// fetched): per variant the metrics with their spread, a cost-versus-
// quality chart, and each case's article with its failed checks marked.
func WriteHTML(w io.Writer, d *Document) error {
	data := htmlData{Doc: d, Metrics: MetricNames, Chart: chart(d), Note: emulatedNote(d)}
	for _, r := range d.Results {
		data.Cases = append(data.Cases, htmlCase{Result: r, Failed: failedChecks(r), Body: marked(r.Article.Body, failedChecks(r))})
	}
	if err := reportTemplate.Execute(w, data); err != nil {
		return fmt.Errorf("eval: html report: %w", err)
	}
	return nil
}

type htmlData struct {
	Doc     *Document
	Metrics []string
	Chart   template.HTML
	Note    string
	Cases   []htmlCase
}

type htmlCase struct {
	Result Result
	Failed []Check
	Body   template.HTML
}

// marked escapes an article body and wraps the first occurrence of each
// failed check's text in a <mark> that says why.
func marked(body string, failed []Check) template.HTML {
	type span struct {
		start, end int
		why        string
	}
	var spans []span
	for _, c := range failed {
		if c.Text == "" {
			continue
		}
		if i := strings.Index(body, c.Text); i >= 0 {
			spans = append(spans, span{i, i + len(c.Text), c.Metric + ": " + c.Detail})
		}
	}
	// The narrowest marks win (a figure over the sentence holding it).
	sort.SliceStable(spans, func(a, b int) bool { return spans[a].end-spans[a].start < spans[b].end-spans[b].start })
	var kept []span
	for _, s := range spans {
		if !slices.ContainsFunc(kept, func(k span) bool { return s.start < k.end && k.start < s.end }) {
			kept = append(kept, s)
		}
	}
	sort.Slice(kept, func(a, b int) bool { return kept[a].start < kept[b].start })
	var b strings.Builder
	pos := 0
	for _, s := range kept {
		b.WriteString(template.HTMLEscapeString(body[pos:s.start]))
		fmt.Fprintf(&b, `<mark title="%s">%s</mark>`, template.HTMLEscapeString(s.why), template.HTMLEscapeString(body[s.start:s.end]))
		pos = s.end
	}
	b.WriteString(template.HTMLEscapeString(body[pos:]))
	return template.HTML(b.String()) // every part escaped above
}

// quality is a variant's mean over the quality ratios it has: the chart's
// vertical axis only, never a metric of its own.
func quality(v VariantSummary) float64 {
	var s float64
	n := 0
	for _, m := range QualityMetrics {
		if st, ok := v.Metrics[m]; ok && st.N > 0 {
			s += st.Mean
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// chart draws each variant at its mean cost per run (x) and quality (y).
func chart(d *Document) template.HTML {
	const w, h, pad, plotW = 760.0, 300.0, 50.0, 400.0
	maxCost := 0.0
	for _, v := range d.Variants {
		maxCost = max(maxCost, v.Metrics[CostUSD].Mean)
	}
	if maxCost == 0 {
		maxCost = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-labelledby="chart-title" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f">`, w, h, w, h)
	b.WriteString(`<title id="chart-title">Mean cost per run against mean quality ratio, one point per variant</title>`)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333"/>`, pad, h-pad, pad+plotW, h-pad)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333"/>`, pad, pad/2, pad, h-pad)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" text-anchor="middle">cost per run (USD, 0 to %.4g)</text>`, pad+plotW/2, h-12, maxCost)
	fmt.Fprintf(&b, `<text x="14" y="%.0f" font-size="12" transform="rotate(-90 14 %.0f)" text-anchor="middle">quality (0 to 1)</text>`, h/2, h/2)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" text-anchor="middle">0</text><text x="%.0f" y="%.0f" font-size="11" text-anchor="middle">%.4g</text>`,
		pad, h-pad+14, pad+plotW, h-pad+14, maxCost)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" text-anchor="end">1</text><text x="%.0f" y="%.0f" font-size="11" text-anchor="end">0</text>`,
		pad-4, pad/2+4, pad-4, h-pad)
	// Points are numbered; the legend on the right names them, so close
	// points do not hide each other's labels.
	for i, v := range d.Variants {
		x := pad + plotW*v.Metrics[CostUSD].Mean/maxCost
		y := h - pad - (h-1.5*pad)*quality(v)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="9" fill="#1f4e9e"/><text x="%.1f" y="%.1f" font-size="11" fill="#fff" text-anchor="middle">%d</text>`,
			x, y, x, y+4, i+1)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12">%d. %s: $%.4g per run, quality %.3f</text>`,
			pad+plotW+20, pad/2+10+18*float64(i), i+1, template.HTMLEscapeString(v.Name), v.Metrics[CostUSD].Mean, quality(v))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // names escaped above
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"stat":  statText,
	"judge": func() []string { return JudgeCriteria },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Evaluation: {{.Doc.Suite.Name}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.45}
header,main{max-width:70rem;margin:0 auto;padding:0 1rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #999;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f6}
mark{background:#ffd7d7;color:#000;border-bottom:2px solid #a40000}
.fail{color:#8a0000}
.ok{color:#1d5e20}
article{border:1px solid #ccc;margin:1rem 0;padding:.5rem 1rem}
.body{white-space:pre-wrap}
</style>
</head>
<body>
<header>
<h1>Evaluation: {{.Doc.Suite.Name}}{{with .Doc.Suite.Version}} (version {{.}}){{end}}</h1>
<p>{{.Doc.Suite.Cases}} cases, newsroom {{.Doc.BinaryVersion}}{{.Note}}.</p>
</header>
<main>
<h2>Metrics per variant</h2>
<p>Mean ± standard deviation (minimum–maximum) over the runs.</p>
<table>
<caption>Metrics per variant</caption>
<thead><tr><th scope="col">metric</th>{{range .Doc.Variants}}<th scope="col">{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{range $m := .Metrics}}<tr><th scope="row">{{$m}}</th>{{range $.Doc.Variants}}<td>{{stat (index .Metrics $m)}}</td>{{end}}</tr>
{{end}}<tr><th scope="row">outcome as expected</th>{{range .Doc.Variants}}<td>{{printf "%.2f" .OutcomeOK}}</td>{{end}}</tr>
</tbody>
</table>
{{$judged := false}}{{range .Doc.Variants}}{{if .Judge}}{{$judged = true}}{{end}}{{end}}
{{if $judged}}<h2>Judge's scores</h2>
<p>Scores from 1 to 5 given by a model acting as judge: an opinion, kept apart from the measured metrics.</p>
<table>
<caption>Judge's scores per variant</caption>
<thead><tr><th scope="col">criterion</th>{{range .Doc.Variants}}<th scope="col">{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{range $c := judge}}<tr><th scope="row">{{$c}}</th>{{range $.Doc.Variants}}<td>{{stat (index .Judge $c)}}</td>{{end}}</tr>
{{end}}<tr><th scope="row">judge cost (USD)</th>{{range .Doc.Variants}}<td>{{printf "%.4f" .JudgeCostUSD}}</td>{{end}}</tr>
</tbody>
</table>{{end}}
<h2>Cost against quality</h2>
<p>Quality here is the mean of a variant's quality ratios (claim support to approved), for the chart only.</p>
{{.Chart}}
<h2>Cases</h2>
{{range .Cases}}<article>
<h3>{{.Result.Case}} on {{.Result.Variant}}, run {{.Result.Repeat}}</h3>
<p>Stop reason: {{.Result.StopReason}}. Expected outcome {{.Result.Outcome}}: {{if .Result.OutcomeOK}}<span class="ok">reached</span>{{else}}<span class="fail">not reached</span>{{end}}.{{with .Result.Error}} Error: {{.}}{{end}}</p>
{{if .Failed}}<ul>{{range .Failed}}<li class="fail">{{.Metric}}: {{.Detail}}{{with .Text}} — “{{.}}”{{end}}</li>{{end}}</ul>{{else}}<p class="ok">No failed check.</p>{{end}}
<h4>{{with .Result.Article.Headline}}{{.}}{{else}}(no headline){{end}}</h4>
<div class="body">{{.Body}}</div>
</article>
{{end}}
</main>
</body>
</html>
`))
