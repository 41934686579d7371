package templates

import (
	"strings"
	"testing"

	"github.com/goswift/goswift/swift/data"
)

// imageTokens is the placeholder layout of the masking tests: the stories260K byte-fallback
// token <0x00> (id 3, never produced by ordinary text), 4 tokens an image.
var imageTokens = ImageTokens{TokenID: 3, PerImage: 4}

// placeholderRuns returns the start of every maximal run of id in ids, and the run lengths.
func placeholderRuns(ids []int32, id int32) (starts, lens []int) {
	for i := 0; i < len(ids); i++ {
		if ids[i] != id {
			continue
		}
		j := i
		for j < len(ids) && ids[j] == id {
			j++
		}
		starts, lens = append(starts, i), append(lens, j-i)
		i = j - 1
	}
	return starts, lens
}

func toInts(ids []int32) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}

// TestImagePlaceholderMasks: with Options.Image, every template turns each image of a sample
// into PerImage consecutive placeholder ids, each with loss weight 0, exactly where the
// <image> tag was (at the start of the first user turn when the text has no tag): the user text
// that followed the tag comes right after the block and none of it before. The answer keeps its
// weight, and the number of trained positions is that of the same sample without images.
func TestImagePlaceholderMasks(t *testing.T) {
	tok := storiesTokenizer(t)
	user := func(content string) data.Message { return data.Message{Role: data.RoleUser, Content: content} }
	answer := data.Message{Role: data.RoleAssistant, Content: "a shirt"}
	tests := []struct {
		name   string
		s      data.Sample
		after  []string // the user text right after each image block
		before string   // user text that must precede the first block ("" none)
	}{
		{"tag first", data.Sample{Images: []string{"a.png"}, Messages: []data.Message{
			user("<image>What is in this picture?"), answer}}, []string{"What is in this picture?"}, ""},
		{"untagged", data.Sample{Images: []string{"a.png"}, Messages: []data.Message{
			user("What is in this picture?"), answer}}, []string{"What is in this picture?"}, ""},
		{"tag inside the text", data.Sample{Images: []string{"a.png"}, Messages: []data.Message{
			user("Look at this: <image> What is it?"), answer}}, []string{"What is it?"}, "Look at this:"},
		{"two images", data.Sample{Images: []string{"a.png", "b.png"}, Messages: []data.Message{
			user("First <image> then <image> which is bigger?"), answer}}, []string{"then", "which is bigger?"}, "First"},
		{"with a system prompt", data.Sample{Images: []string{"a.png"}, Messages: []data.Message{
			{Role: data.RoleSystem, Content: "Answer briefly."}, user("<image>Name it."), answer}}, []string{"Name it."}, ""},
	}
	for _, name := range Names() {
		tmpl, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				ex, err := EncodeSample(tmpl, tok, tc.s, Options{Image: imageTokens})
				if err != nil {
					t.Fatal(err)
				}
				if len(ex.IDs) != len(ex.Weights) {
					t.Fatalf("%d ids but %d weights", len(ex.IDs), len(ex.Weights))
				}
				starts, lens := placeholderRuns(ex.IDs, int32(imageTokens.TokenID))
				if len(starts) != len(tc.s.Images) {
					t.Fatalf("%d placeholder blocks (at %v), want one per image (%d)", len(starts), starts, len(tc.s.Images))
				}
				for k, st := range starts {
					if lens[k] != imageTokens.PerImage {
						t.Fatalf("image %d: %d consecutive placeholders at %d, want PerImage = %d", k, lens[k], st, imageTokens.PerImage)
					}
					for i := st; i < st+lens[k]; i++ {
						if ex.Weights[i] != 0 {
							t.Fatalf("image %d: placeholder at %d has loss weight %v, want 0", k, i, ex.Weights[i])
						}
					}
					// The text right after the block is the user text that followed the tag.
					end := len(ex.IDs)
					if k+1 < len(starts) {
						end = starts[k+1]
					}
					next := strings.TrimSpace(tok.Decode(toInts(ex.IDs[st+lens[k] : end])))
					if !strings.HasPrefix(next, tc.after[k]) {
						t.Fatalf("image %d: the text after its placeholders is %q, want it to start with %q", k, clip(next), tc.after[k])
					}
				}
				prefix := tok.Decode(toInts(ex.IDs[:starts[0]]))
				if tc.before == "" {
					if strings.Contains(prefix, tc.after[0]) {
						t.Fatalf("the user text %q comes before the first image: %q", tc.after[0], prefix)
					}
				} else if !strings.HasSuffix(strings.TrimSpace(prefix), tc.before) {
					t.Fatalf("the text before the first image is %q, want it to end with %q", prefix, tc.before)
				}
				// Without images (tags removed) the trained positions are the same: the
				// placeholders add only untrained positions.
				plain := tc.s
				plain.Images = nil
				plain.Messages = append([]data.Message(nil), tc.s.Messages...)
				for i := range plain.Messages {
					plain.Messages[i].Content = strings.ReplaceAll(plain.Messages[i].Content, data.ImageTag, "")
				}
				want, err := EncodeSample(tmpl, tok, plain, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if got := ex.NumTargets(); got != want.NumTargets() || got == 0 {
					t.Fatalf("%d trained positions with images, %d without", got, want.NumTargets())
				}
			})
		}
	}
}

// TestImageTagCount: a sample whose <image> tags do not match its images is an error naming
// both counts, for training and for generation prompts.
func TestImageTagCount(t *testing.T) {
	tok := storiesTokenizer(t)
	s := data.Sample{Images: []string{"a.png"}, Messages: []data.Message{
		{Role: data.RoleUser, Content: "<image> and <image>?"}, {Role: data.RoleAssistant, Content: "two"}}}
	opts := Options{Image: imageTokens}
	if _, err := EncodeSample(ChatML, tok, s, opts); err == nil || !strings.Contains(err.Error(), "2 <image> tags but 1 images") {
		t.Fatalf("EncodeSample: error %v, want the tag and image counts", err)
	}
	if _, err := EncodePrompt(ChatML, tok, s, opts); err == nil || !strings.Contains(err.Error(), "2 <image> tags but 1 images") {
		t.Fatalf("EncodePrompt: error %v, want the tag and image counts", err)
	}
	s.Source = "d.jsonl:7"
	if _, err := EncodeSamples(ChatML, tok, []data.Sample{s}, opts); err == nil || !strings.Contains(err.Error(), "d.jsonl:7") {
		t.Fatalf("EncodeSamples: error %v, want the sample's file:line", err)
	}
}
