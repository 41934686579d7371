package bench

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// FormatBytes writes n in kB, MB or GB (decimal units).
func FormatBytes(n int64) string { return formatBytes(n) }

// FormatCount writes a parameter count as 1.2K, 3.4M or 0.5B.
func FormatCount(n int64) string { return fmtCount(n) }

// formatBytes writes n in MB or GB (decimal).
func formatBytes(n int64) string {
	switch {
	case n >= 1e9 || n <= -1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6 || n <= -1e6:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	}
}

// ParseBytes reads a memory size: a number with an optional unit B, kB/KB, MB, GB, TB (powers of
// 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. "16GB", "24 GiB", "512MiB".
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = strings.TrimSpace(t[:i]), strings.TrimSpace(t[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, errors.Errorf("memory size %q: want a number with a unit, e.g. 16GB or 24GiB", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "kb": 1e3, "k": 1e3, "mb": 1e6, "m": 1e6, "gb": 1e9, "g": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}[strings.ToLower(unit)]
	if mult == 0 {
		return 0, errors.Errorf("memory size %q: unknown unit %q (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)", s, unit)
	}
	return int64(v * mult), nil
}
