package mcp

import (
	"strings"
	"testing"
)

func TestRedactor_Text(t *testing.T) {
	spec := Spec{
		Name: "hosted",
		URL:  "https://reader:pa55-word@mcp.example/mcp?api_key=url-key-123&region=eu",
		Env:  []string{"ARCHIVE_PASS=env-pass-456", "MODE=on"},
	}
	r := newRedactor(spec, []string{"AZURE_OPENAI_API_KEY=inherited-789", "HOME=/home/desk", "GITHUB_TOKEN=gh-tok-000"})
	cases := []struct{ in, want string }{
		{"dial https://reader:pa55-word@mcp.example/mcp?api_key=url-key-123&region=eu: refused",
			"dial https://[redacted]@mcp.example/mcp?[redacted]: refused"},
		{"login with env-pass-456 failed", "login with [redacted] failed"},
		{"key inherited-789 and gh-tok-000", "key [redacted] and [redacted]"},
		{"HOME is /home/desk, MODE is on", "HOME is /home/desk, MODE is on"},
		{"Authorization: Bearer abcdefgh.ijklmnop", "Authorization: Bearer [redacted]"},
		{`{"api_key": "zz-not-given-before"}`, `{"api_key": "[redacted]"}`},
		{"password=hunter22; user=desk", "password=[redacted]; user=desk"},
		{"(secret: s3cr3t-value)", "(secret: [redacted])"},
		{"postgres://app:db-pw-1@db:5432/news", "postgres://[redacted]@db:5432/news"},
		{"using sk-abcdefghijklmnopqrstuv now", "using [redacted] now"},
		{"archive index rebuilt in 3s", "archive index rebuilt in 3s"},
	}
	for _, tc := range cases {
		got := r.text(tc.in)
		if got != tc.want {
			t.Errorf("text(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
		if again := r.text(got); again != got {
			t.Errorf("redacting %q twice gave %q", got, again)
		}
	}
}

func TestReadLines_CutsLongLinesAndKeepsTheLastInTheTail(t *testing.T) {
	long := strings.Repeat("x", 3*maxLineLen)
	var got []string
	readLines(strings.NewReader("first\r\n"+long+"\nthird"), func(s string) { got = append(got, s) })
	if len(got) != 3 || got[0] != "first" || len(got[1]) > maxLineLen+len("…") || !strings.HasSuffix(got[1], "…") || got[2] != "third" {
		t.Fatalf("lines %q", got)
	}
	var tl tail
	for i := range 3 * tailLines {
		tl.add(strings.Repeat("y", 10) + string(rune('a'+i%26)))
	}
	if n := len(tl.last(1000)); n != tailLines {
		t.Fatalf("tail kept %d lines, want %d", n, tailLines)
	}
	tl = tail{}
	for range 20 {
		tl.add(strings.Repeat("z", maxLineLen))
	}
	if size := len(strings.Join(tl.last(1000), "")); size > tailBytes {
		t.Fatalf("tail kept %d bytes, want at most %d", size, tailBytes)
	}
	if q := tl.quote(); strings.Count(q, " | ") != errTailSize-1 {
		t.Fatalf("quote %q: want the last %d lines", q, errTailSize)
	}
}
