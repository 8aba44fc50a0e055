package console

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
)

// maxShown bounds the tool text printed per line.
const maxShown = 160

func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		return s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// toolEvent prints tool calls, results, sources and the grounding check.
func (p *Printer) toolEvent(e team.Event) {
	if p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
	switch e.Type {
	case team.EventToolCall:
		fmt.Fprintf(p.w, "[%s calls %s %s]\n", e.Speaker, e.Tool.Name, shorten(e.Tool.Arguments))
	case team.EventToolResult:
		switch {
		case e.Tool.IsError:
			fmt.Fprintf(p.w, "[%s failed: %s]\n", e.Tool.Name, shorten(e.Tool.Result))
		case e.Source != nil:
			fmt.Fprintf(p.w, "[%s read source [%d] %s]\n", e.Tool.Name, e.Source.ID, SourceLine(*e.Source))
		default:
			fmt.Fprintf(p.w, "[%s returned %d bytes]\n", e.Tool.Name, len(e.Tool.Result))
		}
	case team.EventSource:
		fmt.Fprintf(p.w, "[source [%d] %s]\n", e.Source.ID, SourceLine(*e.Source))
	case team.EventGrounding:
		fmt.Fprintf(p.w, "[grounding: %s]\n", GroundingLine(e.Grounding))
	case team.EventSecurity:
		if s := e.Security; s != nil {
			fmt.Fprintf(p.w, "[security: %s %s %s]\n", s.Kind, s.Tool, s.URL)
		}
	}
}

// SourceLine describes a source as plain text: its title and host.
func SourceLine(s tool.Source) string {
	host := s.URL
	if u, err := url.Parse(s.URL); err == nil && u.Host != "" {
		host = u.Host
	}
	if s.Title == "" {
		return host
	}
	return s.Title + " (" + host + ")"
}

// GroundingLine summarises a grounding check.
func GroundingLine(g *team.Grounding) string {
	switch {
	case g == nil:
		return "not run"
	case g.Skipped != "":
		return "not checked (" + g.Skipped + ")"
	case len(g.Unsupported) == 0:
		return fmt.Sprintf("%d claims checked, all found in the task or the sources", g.Checked)
	}
	return fmt.Sprintf("%d of %d claims found in no source: %s", len(g.Unsupported), g.Checked, strings.Join(g.Unsupported, "; "))
}

// sourcesSummary prints the run's sources and grounding after the summary.
func (p *Printer) sourcesSummary(res *team.Result) {
	if res.Grounding != nil {
		fmt.Fprintf(p.w, "Grounding: %s\n", GroundingLine(res.Grounding))
	}
	if len(res.Sources) == 0 {
		return
	}
	fmt.Fprintln(p.w, "Sources:")
	for _, s := range res.Sources {
		fmt.Fprintf(p.w, "  [%d] %s — %s\n", s.ID, SourceLine(s), s.URL)
	}
}
