package cache

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func split(text string) []string {
	var out []string
	pieces(text, func(p string) { out = append(out, p) })
	return out
}

func TestPieces(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"", nil},
		{"Hello, world!", []string{"Hello", ",", " world", "!"}},
		{"In 2026 the port lost 12345 tons.", []string{"In", " 202", "6", " the", " port", " lost", " 123", "45", " tons", "."}},
		{"Line one.\n\nLine  two", []string{"Line", " one", ".", "\n\n", "Line", " ", " two"}},
		{"Café — «naïve» 🚢 ok", []string{"Café", " —", " «", "naïve", "»", " 🚢", " ok"}},
		{"  lead and trail  ", []string{" ", " lead", " and", " trail", "  "}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, split(tt.text)); diff != "" {
				t.Errorf("pieces (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzPieces(f *testing.F) {
	for _, s := range []string{"Hello, world!", "a  b\n\tc", "1234567 x", "\xff\xfe bad utf8", "🚢🚢 «»"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := split(text)
		if strings.Join(got, "") != text {
			t.Fatalf("pieces of %q join to %q", text, strings.Join(got, ""))
		}
		for _, p := range got {
			if p == "" {
				t.Fatalf("an empty piece in %q", got)
			}
		}
	})
}
