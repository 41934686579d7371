package tokenizers

import (
	"cmp"
	"encoding/binary"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/pkg/errors"
)

// Llama2C is a tokenizer in Karpathy's llama2.c tokenizer.bin format: a sentencepiece-style
// vocabulary of pieces with scores (spaces already written as ' ', not '▁'), BOS=1, EOS=2 and
// byte-fallback pieces "<0x00>".."<0xFF>" at ids 3..258.
//
// Encode reproduces run.c's encode exactly (see Encode). Decode follows run.c's decode and
// additionally drops the dummy-prefix space at the start (see Decode).
type Llama2C struct {
	name        string
	maxTokenLen int
	pieces      []string
	scores      []float32
	lookup      map[string]int32 // piece -> lowest id with that piece
	merges      map[uint64]mergeRule
	byteIDs     [256]int32 // id of "<0xNN>", -1 if absent
	byteOf      []int16    // id -> byte value for "<0xNN>" pieces, -1 otherwise
	spaceID     int32      // id of " " (the dummy prefix), -1 if absent
}

// llama2c special ids, fixed by the format (run.c hard-codes them).
const (
	llama2cBOS = 1
	llama2cEOS = 2
)

// LoadLlama2C reads a llama2.c tokenizer.bin file.
func LoadLlama2C(path string) (*Llama2C, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrapf(err, "reading llama2.c tokenizer %s", path)
	}
	return ParseLlama2C(data, path)
}

// ParseLlama2C parses the bytes of a llama2.c tokenizer.bin: int32 max_token_length, then for
// each token until the end of the data: float32 score, int32 length, length bytes (all
// little-endian). name is used in error messages.
func ParseLlama2C(data []byte, name string) (*Llama2C, error) {
	if len(data) < 4 {
		return nil, errors.Errorf("%s: not a llama2.c tokenizer: %d bytes, need at least the 4-byte max_token_length header", name, len(data))
	}
	maxLen := int32(binary.LittleEndian.Uint32(data))
	if maxLen <= 0 || maxLen > 1<<16 {
		return nil, errors.Errorf("%s: not a llama2.c tokenizer: max_token_length header is %d (a SentencePiece protobuf .model is not supported: convert it to tokenizer.json)", name, maxLen)
	}
	t := &Llama2C{name: name, maxTokenLen: int(maxLen), spaceID: -1}
	off := 4
	for off < len(data) {
		idx := len(t.pieces)
		if len(data)-off < 8 {
			return nil, errors.Errorf("%s: token %d at byte %d: truncated header (%d bytes left, need 8)", name, idx, off, len(data)-off)
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(data[off:]))
		n := int32(binary.LittleEndian.Uint32(data[off+4:]))
		off += 8
		if n < 0 || int(n) > len(data)-off {
			return nil, errors.Errorf("%s: token %d at byte %d: length %d out of range (%d bytes left)", name, idx, off-4, n, len(data)-off)
		}
		t.pieces = append(t.pieces, string(data[off:off+int(n)]))
		t.scores = append(t.scores, score)
		off += int(n)
	}
	if len(t.pieces) <= llama2cEOS {
		return nil, errors.Errorf("%s: llama2.c tokenizer has %d tokens, need at least 3 (<unk>, BOS, EOS)", name, len(t.pieces))
	}
	t.build()
	return t, nil
}

func (t *Llama2C) build() {
	t.lookup = make(map[string]int32, len(t.pieces))
	for i, p := range t.pieces {
		if _, dup := t.lookup[p]; !dup {
			t.lookup[p] = int32(i)
		}
	}
	t.byteOf = make([]int16, len(t.pieces))
	for i := range t.byteOf {
		t.byteOf[i] = -1
	}
	for b := range t.byteIDs {
		t.byteIDs[b] = -1
		// run.c uses id b+3 for byte fallback; we require the piece there to be "<0xNN>".
		if id := b + 3; id < len(t.pieces) && parseByteToken(t.pieces[id]) == b {
			t.byteIDs[b] = int32(id)
		}
	}
	for i, p := range t.pieces {
		if b := parseByteToken(p); b >= 0 {
			t.byteOf[i] = int16(b)
		}
	}
	if id, ok := t.lookup[" "]; ok {
		t.spaceID = id
	}
	// Every way of writing a piece as the concatenation of two pieces is a merge. Its rank
	// orders the scores from the highest down (equal scores share a rank), so the highest
	// score merges first, leftmost on ties, as in run.c (which only merges scores > -1e10).
	var scores []float32
	for i, p := range t.pieces {
		if t.lookup[p] == int32(i) && t.scores[i] > -1e10 && len(p) > 1 {
			scores = append(scores, t.scores[i])
		}
	}
	slices.SortFunc(scores, func(a, b float32) int { return cmp.Compare(b, a) })
	scores = slices.Compact(scores)
	t.merges = make(map[uint64]mergeRule)
	for i, p := range t.pieces {
		if t.lookup[p] != int32(i) || !(t.scores[i] > -1e10) || len(p) < 2 {
			continue
		}
		rank, _ := slices.BinarySearchFunc(scores, t.scores[i], func(a, b float32) int { return cmp.Compare(b, a) })
		for k := 1; k < len(p); k++ {
			a, okA := t.lookup[p[:k]]
			b, okB := t.lookup[p[k:]]
			if okA && okB {
				t.merges[pairKey(a, b)] = mergeRule{rank: int32(rank), id: int32(i)}
			}
		}
	}
}

// parseByteToken returns the byte of a "<0xNN>" piece (hex, either case), or -1.
func parseByteToken(p string) int {
	if len(p) != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>' {
		return -1
	}
	hi, lo := unhex(p[3]), unhex(p[4])
	if hi < 0 || lo < 0 {
		return -1
	}
	return hi<<4 | lo
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// Encode tokenizes text exactly like llama2.c's run.c encode (with bos=0, eos=0): for
// non-empty text the dummy-prefix piece " " comes first; then each UTF-8 codepoint (run.c's
// grouping: a byte plus up to 3 following continuation bytes) becomes its piece, or if absent
// one byte-fallback id per byte (byte b -> id b+3); then the adjacent pair whose concatenation
// is a piece with the highest score is merged (leftmost on ties) until none is left.
//
// Differences from run.c, both outside what run.c can do: a NUL byte is encoded (byte
// fallback) instead of ending the text, and if the vocabulary lacks " " the dummy prefix uses
// the byte-fallback id of 0x20 (run.c would emit -1). Like run.c, merges may form any piece,
// even a "<0xNN>" one if the vocabulary holds its halves (tok512.bin does not); Decode then
// yields that byte rather than the text.
func (t *Llama2C) Encode(text string) []int {
	if text == "" {
		return []int{}
	}
	ids := make([]int32, 0, len(text)+1)
	if t.spaceID >= 0 {
		ids = append(ids, t.spaceID)
	} else {
		ids = t.appendBytes(ids, " ")
	}
	for i := 0; i < len(text); {
		j := i + 1
		for j < len(text) && j-i < 4 && text[j]&0xC0 == 0x80 {
			j++
		}
		if id, ok := t.lookup[text[i:j]]; ok {
			ids = append(ids, id)
		} else {
			ids = t.appendBytes(ids, text[i:j])
		}
		i = j
	}
	ids = applyMerges(ids, t.merges)
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}

func (t *Llama2C) appendBytes(ids []int32, s string) []int32 {
	for k := 0; k < len(s); k++ {
		if id := t.byteIDs[s[k]]; id >= 0 {
			ids = append(ids, id)
		} else if id := int(s[k]) + 3; id < len(t.pieces) {
			ids = append(ids, int32(id)) // run.c's b+3, whatever the piece there is
		} else {
			ids = append(ids, 0) // <unk>
		}
	}
	return ids
}

// EncodeWithSpecial is BOS followed by Encode(text), as run.c's generate encodes the prompt.
func (t *Llama2C) EncodeWithSpecial(text string) []int {
	return append([]int{llama2cBOS}, t.Encode(text)...)
}

// AddsBOS is true: llama2.c models expect BOS first.
func (t *Llama2C) AddsBOS() bool { return true }

// Decode joins the pieces of ids. BOS and EOS are skipped; "<0xNN>" pieces become the raw
// byte; the leading space of the first piece after a BOS is stripped (run.c) and so is the
// leading space of the very first piece when ids do not start with BOS (the dummy prefix
// Encode adds, as sentencepiece does). Hence Decode(Encode(s)) == s and
// Decode(prompt ++ continuation) is the full text; to stream piece by piece use DecodePiece.
func (t *Llama2C) Decode(ids []int) string {
	var sb strings.Builder
	strip := true
	for _, id := range ids {
		switch {
		case id == llama2cBOS:
			strip = true
			continue
		case id == llama2cEOS || id < 0 || id >= len(t.pieces):
			continue
		}
		if b := t.byteOf[id]; b >= 0 {
			// A byte-fallback space is the dummy prefix only when " " is not a piece.
			if !(strip && b == ' ' && t.spaceID < 0) {
				sb.WriteByte(byte(b))
			}
		} else {
			p := t.pieces[id]
			if strip && strings.HasPrefix(p, " ") {
				p = p[1:]
			}
			sb.WriteString(p)
		}
		strip = false
	}
	return sb.String()
}

// DecodePiece is run.c's decode(prev, id) for streaming: the piece of id, with its leading
// space stripped when prev is BOS and "<0xNN>" turned into the raw byte. BOS/EOS give "".
func (t *Llama2C) DecodePiece(prev, id int) string {
	if id == llama2cBOS || id == llama2cEOS || id < 0 || id >= len(t.pieces) {
		return ""
	}
	if b := t.byteOf[id]; b >= 0 {
		return string([]byte{byte(b)})
	}
	p := t.pieces[id]
	if prev == llama2cBOS && strings.HasPrefix(p, " ") {
		p = p[1:]
	}
	return p
}

// VocabSize is the number of pieces.
func (t *Llama2C) VocabSize() int { return len(t.pieces) }

// BOS is 1.
func (t *Llama2C) BOS() int { return llama2cBOS }

// EOS is 2.
func (t *Llama2C) EOS() int { return llama2cEOS }

// Token is the raw piece of id (BOS is "\n<s>\n" in llama2.c files).
func (t *Llama2C) Token(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// Score is the sentencepiece score of id (0 if out of range).
func (t *Llama2C) Score(id int) float32 {
	if id < 0 || id >= len(t.scores) {
		return 0
	}
	return t.scores[id]
}

// MaxTokenLength is the max_token_length header of the file.
func (t *Llama2C) MaxTokenLength() int { return t.maxTokenLen }
