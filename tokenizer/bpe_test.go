package tokenizer

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// TestTokens_MatchTiktokenGo compares this package's encoder with
// tiktoken-go's on fixed texts and on random ones mixing scripts, digits,
// punctuation, contractions, whitespace runs and invalid UTF-8.
func TestTokens_MatchTiktokenGo(t *testing.T) {
	tiktoken.SetBpeLoader(tiktokenloader.NewOfflineLoader())
	texts := []string{
		"hello world",
		"The mayor said the bridge reopens on Monday.\n\nTraffic will resume at 6 a.m.",
		"Café 東京 🎉 naïve — “quotes”",
		"They'll say it's the CEO's call; we'd've ALSO'VE 'S 'll",
		"   leading spaces\t\ttabs\r\n\r\nwindows lines   \n  trailing   ",
		"1234567890 3.14159 1,000,000 +44 (0)20 7946 0958",
		"<|endoftext|> is ordinary text here <|fim_prefix|>",
		"https://example.com/a/b?c=d&e=f#g //comment /* block */",
		"Supercalifragilisticexpialidocious antidisestablishmentarianism",
		"Ελληνικά Русский текст العربية हिन्दी 한국어 ภาษาไทย",
		"e\u0301 combining marks a\u0308 \u200d zero width",
		"\xff\xfe invalid \xc3 utf-8",
		strings.Repeat("ab", 300) + strings.Repeat("🙂", 50),
	}
	alphabet := []rune("aAbBzZéÉßøŁł東京日本語한국ßπΩЖжअआ0123456789 \t\n\r.,;:!?'\"-—()[]{}<>/\\@#$%^&*_+=|~`’“”…🎉🙂\u0301\u200d")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 400 {
		n := 1 + rng.IntN(60)
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		texts = append(texts, b.String())
	}
	for _, enc := range []string{O200kBase, CL100kBase} {
		t.Run(enc, func(t *testing.T) {
			ref, err := tiktoken.GetEncoding(enc)
			if err != nil {
				t.Fatal(err)
			}
			tk, err := ForEncoding(enc)
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for _, text := range texts {
				want := ref.EncodeOrdinary(text)
				if len(want) == 0 {
					want = nil
				}
				if diff := cmp.Diff(want, tk.Tokens(text)); diff != "" {
					t.Errorf("Tokens(%q) (-tiktoken-go +ours):\n%s", text, diff)
					bad++
				}
				if got := tk.Count(text); got != len(want) {
					t.Errorf("Count(%q) = %d, want %d", text, got, len(want))
				}
				if bad > 5 {
					t.Fatal("too many differences")
				}
			}
		})
	}
}
