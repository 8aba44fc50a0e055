package tokenizer

import (
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestEncodingForModel(t *testing.T) {
	tests := []struct{ model, want string }{
		{"gpt-4o", O200kBase},
		{"gpt-4o-2024-11-20", O200kBase},
		{"gpt-4o-mini", O200kBase},
		{"gpt-4.1", O200kBase},
		{"gpt-5-mini", O200kBase},
		{"o3-mini", O200kBase},
		{"my-deployment", O200kBase},
		{"", O200kBase},
		{"gpt-4", CL100kBase},
		{"gpt-4-32k", CL100kBase},
		{"gpt-35-turbo", CL100kBase},
		{"gpt-3.5-turbo-0125", CL100kBase},
		{"GPT-4-Turbo", CL100kBase},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			if got := EncodingForModel(tt.model); got != tt.want {
				t.Errorf("EncodingForModel(%q) = %q, want %q", tt.model, got, tt.want)
			}
		})
	}
}

func TestForModel_cachesOneEncoderPerEncoding(t *testing.T) {
	a := MustForModel("gpt-4o")
	b := MustForModel("gpt-5")
	c := MustForModel("gpt-4")
	if a != b {
		t.Error("gpt-4o and gpt-5 got different tokenizers for the same encoding")
	}
	if a == c {
		t.Error("gpt-4o and gpt-4 share a tokenizer")
	}
	if a.Encoding() != O200kBase || c.Encoding() != CL100kBase {
		t.Errorf("encodings = %s, %s", a.Encoding(), c.Encoding())
	}
	if _, err := ForEncoding("p50k_base"); err == nil {
		t.Error("ForEncoding(p50k_base) succeeded, want an error")
	}
}

func TestTokenizer_Count(t *testing.T) {
	tests := []struct {
		encoding, text string
		want           int
	}{
		{O200kBase, "", 0},
		{O200kBase, "hello world", 2},
		{CL100kBase, "hello world", 2},
		{CL100kBase, "tiktoken is great!", 6},
		{O200kBase, "tiktoken is great!", 6},
		{CL100kBase, "antidisestablishmentarianism", 6},
		{O200kBase, "antidisestablishmentarianism", 6},
		// Values from OpenAI's cookbook "How to count tokens with tiktoken".
		{CL100kBase, "2 + 2 = 4", 7},
		{O200kBase, "2 + 2 = 4", 7},
		{CL100kBase, "お誕生日おめでとう", 9},
		{O200kBase, "お誕生日おめでとう", 8},
		{CL100kBase, "<|endoftext|>", 7},
	}
	for _, tt := range tests {
		t.Run(tt.encoding+"/"+tt.text, func(t *testing.T) {
			tk, err := ForEncoding(tt.encoding)
			if err != nil {
				t.Fatal(err)
			}
			if got := tk.Count(tt.text); got != tt.want {
				t.Errorf("Count(%q) = %d, want %d", tt.text, got, tt.want)
			}
		})
	}
}

func TestTokenizer_Split(t *testing.T) {
	texts := []string{
		"hello world",
		"The mayor said the bridge reopens on Monday.\n\nTraffic will resume at 6 a.m.",
		"Café 東京 🎉 naïve — “quotes”",
		"",
	}
	for _, enc := range []string{O200kBase, CL100kBase} {
		tk, _ := ForEncoding(enc)
		for _, text := range texts {
			t.Run(enc+"/"+text, func(t *testing.T) {
				pieces := tk.Split(text)
				if got := strings.Join(pieces, ""); got != text {
					t.Errorf("pieces join to %q, want %q", got, text)
				}
				if len(pieces) > tk.Count(text) {
					t.Errorf("%d pieces for %d tokens", len(pieces), tk.Count(text))
				}
				for _, p := range pieces {
					if !utf8.ValidString(p) {
						t.Errorf("piece %q is not valid UTF-8", p)
					}
				}
			})
		}
	}
	if got := MustForModel("gpt-4o").Split("hello world"); len(got) != 2 || got[0] != "hello" || got[1] != " world" {
		t.Errorf("Split(hello world) = %q", got)
	}
}

func TestTokenizer_Truncate(t *testing.T) {
	tk := MustForModel("gpt-4o")
	text := "one two three four five six"
	got, cut := tk.Truncate(text, 3)
	if !cut || got != "one two three" {
		t.Errorf("Truncate(3) = %q, %v", got, cut)
	}
	if got, cut := tk.Truncate(text, 100); cut || got != text {
		t.Errorf("Truncate(100) = %q, %v", got, cut)
	}
	if got, cut := tk.Truncate(text, 0); cut || got != text {
		t.Errorf("Truncate(0) = %q, %v", got, cut)
	}
}

func TestTokenizer_concurrentUse(t *testing.T) {
	text := "Café owners in Łódź said the 2.5% levy, approved on Tuesday, would start in 2027. 東京 🎉"
	want := map[string]int{}
	for _, name := range []string{"gpt-4o", "gpt-4"} {
		want[name] = MustForModel(name).Count(text)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			name := "gpt-4o"
			if i%2 == 0 {
				name = "gpt-4"
			}
			tk := MustForModel(name)
			for range 50 {
				if n := tk.Count(text); n != want[name] {
					t.Errorf("%s: Count = %d, want %d", name, n, want[name])
					return
				}
				if got := strings.Join(tk.Split(text), ""); got != text {
					t.Errorf("%s: Split joins to %q", name, got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkTokenizer_Count(b *testing.B) {
	tk := MustForModel("gpt-4o")
	text := strings.Repeat("The city council approved the new budget on Tuesday after a long debate. ", 20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		tk.Count(text)
	}
}

func BenchmarkTokenizer_Split(b *testing.B) {
	tk := MustForModel("gpt-4o")
	text := strings.Repeat("The city council approved the new budget on Tuesday after a long debate. ", 20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		tk.Split(text)
	}
}
