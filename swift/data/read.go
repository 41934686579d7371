package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"
)

// ReadOptions control reading a dataset file.
type ReadOptions struct {
	// Format of every record; FormatAuto (or "") detects each record's shape.
	Format Format
	// SkipBad skips (and counts) malformed records instead of failing on the first.
	SkipBad bool
	// Limit stops after this many good records (0: all).
	Limit int
}

// ReadStats summarise a read.
type ReadStats struct {
	Records int            // good records
	Skipped int            // malformed records skipped (SkipBad)
	Errors  []string       // the first skipped records' errors, "file:line: ..."
	Formats map[Format]int // records per detected format
}

const maxKeptErrors = 10

func (s *ReadStats) add(o ReadStats) {
	s.Records += o.Records
	s.Skipped += o.Skipped
	for _, e := range o.Errors {
		if len(s.Errors) < maxKeptErrors {
			s.Errors = append(s.Errors, e)
		}
	}
	for f, n := range o.Formats {
		if s.Formats == nil {
			s.Formats = map[Format]int{}
		}
		s.Formats[f] += n
	}
}

// Scan streams the records of a JSONL file (one JSON object per line; blank lines ignored) or a
// JSON file holding an array of objects, calling fn for each good record in order. A malformed
// record is an error naming file:line, or with SkipBad is counted and skipped. An error
// returned by fn stops the scan and is returned as is.
//
// BFCL question files get their ground truth from the answer file beside them when there is
// one: NAME_answer.json (this repository's layout) or possible_answer/NAME.json (BFCL's).
func Scan(path string, opts ReadOptions, fn func(Sample) error) (ReadStats, error) {
	stats := ReadStats{Formats: map[Format]int{}}
	if opts.Format == "" {
		opts.Format = FormatAuto
	}
	if _, err := ParseFormat(string(opts.Format)); err != nil {
		return stats, err
	}
	f, err := os.Open(path)
	if err != nil {
		return stats, errors.Wrap(err, "reading dataset")
	}
	defer f.Close()
	answers, err := bfclAnswers(path, opts.Format)
	if err != nil {
		return stats, err
	}
	errStop := errors.New("limit reached")
	handle := func(line int, raw []byte) error {
		s, format, err := ParseRecord(raw, opts.Format)
		if err == nil && format == FormatBFCL && len(s.Expected) == 0 && answers != nil {
			err = attachAnswer(&s, answers)
		}
		if err != nil {
			msg := fmt.Sprintf("%s:%d: %v", path, line, err)
			if !opts.SkipBad {
				return errors.New(msg + " (--skip-bad skips malformed records)")
			}
			stats.Skipped++
			if len(stats.Errors) < maxKeptErrors {
				stats.Errors = append(stats.Errors, msg)
			}
			return nil
		}
		s.Source = fmt.Sprintf("%s:%d", path, line)
		for i, im := range s.Images {
			if !filepath.IsAbs(im) {
				s.Images[i] = filepath.Join(filepath.Dir(path), im)
			}
		}
		stats.Records++
		stats.Formats[format]++
		if err := fn(s); err != nil {
			return err
		}
		if opts.Limit > 0 && stats.Records >= opts.Limit {
			return errStop
		}
		return nil
	}
	r := bufio.NewReaderSize(f, 1<<16)
	first, err := firstNonSpace(r)
	if err != nil {
		return stats, errors.Wrapf(err, "reading %s", path)
	}
	if first == '[' {
		err = scanArray(r, handle)
	} else {
		err = scanLines(r, handle)
	}
	if err == errStop {
		err = nil
	}
	if err != nil {
		if _, isRead := err.(readError); isRead {
			return stats, errors.Wrapf(err, "reading %s", path)
		}
		return stats, err
	}
	if stats.Records == 0 && stats.Skipped == 0 {
		return stats, errors.Errorf("%s: no records", path)
	}
	return stats, nil
}

type readError struct{ error }

func firstNonSpace(r *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := r.Peek(n)
		if len(b) < n {
			if err == io.EOF {
				return 0, nil
			}
			return 0, err
		}
		c := b[n-1]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != 0xEF && c != 0xBB && c != 0xBF { // BOM
			return c, nil
		}
	}
}

// scanLines calls handle for each non-blank line (1-based line numbers), lines of any length.
func scanLines(r *bufio.Reader, handle func(int, []byte) error) error {
	for line := 1; ; line++ {
		raw, err := r.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return readError{err}
		}
		if line == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xEF\xBB\xBF"))
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 {
			if herr := handle(line, t); herr != nil {
				return herr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// scanArray streams the elements of a top-level JSON array, numbering them by the line each
// starts on.
func scanArray(r *bufio.Reader, handle func(int, []byte) error) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return readError{err}
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	dec := json.NewDecoder(bytes.NewReader(data))
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n")) }
	if _, err := dec.Token(); err != nil {
		return errors.Errorf("line 1: %v", err)
	}
	for dec.More() {
		off := dec.InputOffset()
		// The element starts after the separating comma and spaces.
		for off < int64(len(data)) && strings.ContainsRune(", \t\r\n", rune(data[off])) {
			off++
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return errors.Errorf("line %d: malformed JSON array: %v", lineAt(off), err)
		}
		if err := handle(lineAt(off), raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return errors.Errorf("line %d: malformed JSON array: %v", lineAt(dec.InputOffset()), err)
	}
	return nil
}

// ReadFile reads all records of a dataset file (see Scan).
func ReadFile(path string, opts ReadOptions) ([]Sample, ReadStats, error) {
	var out []Sample
	stats, err := Scan(path, opts, func(s Sample) error { out = append(out, s); return nil })
	return out, stats, err
}

// ReadFiles reads several files in order; opts.Limit applies to each.
func ReadFiles(paths []string, opts ReadOptions) ([]Sample, ReadStats, error) {
	var out []Sample
	var stats ReadStats
	for _, p := range paths {
		s, st, err := ReadFile(p, opts)
		stats.add(st)
		if err != nil {
			return nil, stats, err
		}
		out = append(out, s...)
	}
	return out, stats, nil
}

// BFCLAnswerPath returns the answer file of a BFCL question file, "" if there is none.
func BFCLAnswerPath(path string) string {
	ext := filepath.Ext(path)
	base := strings.TrimSuffix(path, ext)
	for _, p := range []string{base + "_answer" + ext, filepath.Join(filepath.Dir(path), "possible_answer", filepath.Base(path))} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// bfclAnswers loads the ground truth beside a BFCL question file, keyed by id (nil if none).
func bfclAnswers(path string, format Format) (map[string][]ExpectedCall, error) {
	if format != FormatAuto && format != FormatBFCL {
		return nil, nil
	}
	ap := BFCLAnswerPath(path)
	if ap == "" || ap == path {
		return nil, nil
	}
	out := map[string][]ExpectedCall{}
	f, err := os.Open(ap)
	if err != nil {
		return nil, errors.Wrap(err, "reading BFCL answers")
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	first, err := firstNonSpace(r)
	if err != nil {
		return nil, errors.Wrapf(err, "reading %s", ap)
	}
	handle := func(line int, raw []byte) error {
		var rec struct {
			ID          string          `json:"id"`
			GroundTruth json.RawMessage `json:"ground_truth"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return errors.Errorf("%s:%d: %v", ap, line, err)
		}
		if rec.ID == "" || len(rec.GroundTruth) == 0 {
			return nil // not an answer file after all
		}
		gt, err := ParseGroundTruth(rec.GroundTruth)
		if err != nil {
			return errors.Errorf("%s:%d: %v", ap, line, err)
		}
		out[rec.ID] = gt
		return nil
	}
	if first == '[' {
		err = scanArray(r, handle)
	} else {
		err = scanLines(r, handle)
	}
	if err != nil {
		return nil, errors.Wrapf(err, "reading BFCL answers %s", ap)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func attachAnswer(s *Sample, answers map[string][]ExpectedCall) error {
	gt, ok := answers[s.ID]
	if !ok {
		return nil // an item without ground truth still serves as a prompt
	}
	s.Expected = gt
	return s.AddExpectedAnswer()
}

// WriteJSONL writes samples as one JSON object per line in the messages format (readable by
// ReadFile).
func WriteJSONL(w io.Writer, samples []Sample) error {
	bw := bufio.NewWriter(w)
	for _, s := range samples {
		line, err := marshal(s)
		if err != nil {
			return errors.Wrapf(err, "encoding sample %s", s.ID)
		}
		bw.Write(line)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
