package web

import (
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// MaxAttrText is the longest alt or title attribute kept: a longer one is
// not a caption a reader sees but a place to hide text.
const MaxAttrText = 150

// MaxLinks is how many of a page's links fetch_url returns (and the run
// records as seen).
const MaxLinks = 50

// hiddenStyleRe matches inline styles that hide an element.
var hiddenStyleRe = regexp.MustCompile(`(?i)(display\s*:\s*none|visibility\s*:\s*hidden|visibility\s*:\s*collapse|font-size\s*:\s*0+(\.0+)?(px|pt|em|rem|%)?\s*(;|!|$)|opacity\s*:\s*0+(\.0+)?\s*(;|!|$))`)

// hidden reports whether a reader of the page would not see n.
func hidden(n *html.Node) bool {
	switch n.Type {
	case html.CommentNode:
		return true
	case html.ElementNode:
	default:
		return false
	}
	switch n.DataAtom {
	case atom.Template, atom.Script, atom.Style, atom.Noscript:
		return true
	}
	for _, a := range n.Attr {
		switch strings.ToLower(a.Key) {
		case "hidden":
			return true
		case "aria-hidden":
			if strings.EqualFold(strings.TrimSpace(a.Val), "true") {
				return true
			}
		case "style":
			if hiddenStyleRe.MatchString(a.Val) {
				return true
			}
		case "type":
			if n.DataAtom == atom.Input && strings.EqualFold(a.Val, "hidden") {
				return true
			}
		}
	}
	return false
}

// clean removes from the tree what a reader would not see: hidden
// elements, templates, comments, scripts, and alt or title attributes
// longer than MaxAttrText. Text nodes lose zero-width and tag characters.
func clean(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if hidden(c) {
			n.RemoveChild(c)
		} else {
			clean(c)
		}
		c = next
	}
	switch n.Type {
	case html.TextNode:
		n.Data = Invisible(n.Data)
	case html.ElementNode:
		kept := n.Attr[:0]
		for _, a := range n.Attr {
			if k := strings.ToLower(a.Key); (k == "alt" || k == "title") && len(a.Val) > MaxAttrText {
				continue
			}
			a.Val = Invisible(a.Val)
			kept = append(kept, a)
		}
		n.Attr = kept
	}
}

// Invisible drops characters a reader does not see: zero-width spaces and
// joiners, word joiners, the byte-order mark, soft hyphens, bidirectional
// controls and the Unicode tag characters (U+E0000 to U+E007F), which can
// spell out a whole hidden text.
func Invisible(s string) string {
	if !strings.ContainsFunc(s, invisible) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s)
}

func invisible(r rune) bool {
	switch {
	case r >= 0xE0000 && r <= 0xE007F:
		return true
	case r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2060 && r <= 0x2064, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0xFEFF, r == 0x00AD, r == 0x180E, r == 0x034F:
		return true
	}
	return false
}

// links returns the absolute http(s) targets of the page's visible a and
// area elements, resolved against base, in order, without repeats, at most
// MaxLinks.
func links(doc *html.Node, base *url.URL) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if len(out) >= MaxLinks {
			return
		}
		if n.Type == html.ElementNode && (n.DataAtom == atom.A || n.DataAtom == atom.Area) {
			for _, a := range n.Attr {
				if a.Key != "href" {
					continue
				}
				if u, err := base.Parse(strings.TrimSpace(a.Val)); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
					if s := u.String(); !seen[s] && len(s) <= MaxURLBytes {
						seen[s] = true
						out = append(out, s)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// textOf returns the visible text of an HTML fragment (a feed summary).
func textOf(fragment string) string {
	doc, err := html.Parse(strings.NewReader(fragment))
	if err != nil {
		return Invisible(stripTags(fragment))
	}
	clean(doc)
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		if n.Type == html.ElementNode && (n.DataAtom == atom.Br || n.DataAtom == atom.P || n.DataAtom == atom.Div || n.DataAtom == atom.Li) {
			b.WriteString("\n")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return b.String()
}
