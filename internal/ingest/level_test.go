package ingest

import (
	"bufio"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// levelCases are the unit cases of DetectLevel; they also seed FuzzDetectLevel.
var levelCases = []struct{ line, want string }{
	// JSON
	{`{"level":"info","msg":"started"}`, LevelInfo},
	{`  {"ts":1,"msg":"x","severity":"ERROR"}`, LevelError},
	{`{"lvl":"warning","msg":"disk"}`, LevelWarn},
	{`{"msg":"a","Level":"Debug"}`, LevelDebug},
	{`{"log.level":"crit"}`, LevelFatal},
	{`{"loglevel":"dbg"}`, LevelDebug},
	{`{"level":30,"msg":"pino"}`, LevelInfo},
	{`{"level":50}`, LevelError},
	{`{"log":{"level":"warn"},"message":"ecs"}`, LevelWarn},
	{`{"nested":{"level":"error"},"level":"info"}`, LevelInfo},
	{`{"msg":"has \"level\":\"error\" inside","lvl":"notice"}`, LevelNotice},
	{`{"level":"nonsense","msg":"ERROR in text"}`, LevelError},
	{`{"msg":"nothing here"}`, LevelUnknown},
	{`{"level":"info"`, LevelInfo},
	{`{"msg":"x",`, LevelUnknown},
	{`{Name:foo Level:error}`, LevelUnknown},
	{`{"a":"\q","level":"warn"}`, LevelUnknown},
	{"{\"a\":\"\x01\",\"level\":\"warn\"}", LevelUnknown},
	// prefixes
	{`E1121 12:00:00.123456    1 controller.go:42] sync failed`, LevelError},
	{`W0102 03:04:05.000000 7 x.go:1] slow`, LevelWarn},
	{`I0102 03:04:05.000000 7 x.go:1] "msg" level=error`, LevelInfo},
	{`F0102 03:04:05.000000 7 x.go:1] boom`, LevelFatal},
	{`<11>Nov 21 12:00:00 host app[1]: message`, LevelError},
	{`<165>1 2003-10-11T22:14:15.003Z host app - - - msg`, LevelNotice},
	{`<6>kernel: usb 1-1: new device`, LevelInfo},
	{`<999>bogus`, LevelUnknown},
	{`03-17 16:13:38.811  1702  2395 D WindowManager: frozen`, LevelDebug},
	{`2024-03-17 16:13:38.811  1702  2395 E Tag: broke`, LevelError},
	{`03-17 16:13:38.811  1702  2395 V Tag: verbose`, LevelTrace},
	// logfmt
	{`ts=2024-01-01T00:00:00Z level=warn msg="disk low"`, LevelWarn},
	{`time="2024" level="error" msg="x"`, LevelError},
	{`caller=main.go:1 lvl=dbg`, LevelDebug},
	{`severity=Critical component=db`, LevelFatal},
	{`msg="level=debug in a value" level=info`, LevelInfo},
	{`xlevel=error msg=x`, LevelUnknown},
	// text words
	{`2015-10-18 18:01:47,978 INFO [main] org.apache.Foo: started`, LevelInfo},
	{`2015-07-29 17:41:44,747 - WARN  [QuorumPeer] - timeout`, LevelWarn},
	{`[Sun Dec 04 04:47:44 2005] [error] mod_jk child in error state`, LevelError},
	{`[Sun Dec 04 04:47:44 2005] [notice] jk2_init() found child`, LevelNotice},
	{`2016-09-28 04:30:30, Info   CBS    Loaded stack`, LevelInfo},
	{`RAS KERNEL FATAL data TLB error interrupt`, LevelFatal},
	{`NULL DISCOVERY SEVERE NodeCard is not fully functional`, LevelError},
	{`Error opening file /etc/x`, LevelError},
	{`WARNING: deprecated flag`, LevelWarn},
	{`[WRN] retrying`, LevelWarn},
	{`[12:00:00 INF] Serilog line`, LevelInfo},
	{`panic: runtime error: index out of range`, LevelFatal},
	{`error: could not connect`, LevelError},
	{`warn something odd`, LevelWarn},
	{`<debug> details`, LevelDebug},
	{`(info) details`, LevelInfo},
	{`EMERG system unusable`, LevelFatal},
	{`ALERT action needed`, LevelFatal},
	{`CRITICAL: out of memory`, LevelFatal},
	{`TRACE enter func`, LevelTrace},
	{`FINE: jul message`, LevelDebug},
	{`NOTICE: reload`, LevelNotice},
	// not levels
	{`the error was ignored`, LevelUnknown},
	{`Everything is fine`, LevelUnknown},
	{`ERROR_CODE=5 returned`, LevelUnknown},
	{`ERRORS: none`, LevelUnknown},
	{`eRRoR mixed case`, LevelUnknown},
	{`I think this is a sentence`, LevelUnknown},
	{`E is a letter`, LevelUnknown},
	{`Alert sent to user`, LevelUnknown},
	{``, LevelUnknown},
	{`   `, LevelUnknown},
	{strings.Repeat("x ", 200) + "ERROR late", LevelUnknown},
	{strings.Repeat("y", 255) + "ERROR", LevelUnknown},
}

func TestDetectLevel(t *testing.T) {
	for _, c := range levelCases {
		if got := DetectLevel([]byte(c.line)); got != c.want {
			t.Errorf("DetectLevel(%q) = %q; want %q", c.line, got, c.want)
		}
	}
}

func TestNormalizeLevel(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := NormalizeLevel(in); got != want {
			t.Errorf("NormalizeLevel(%q) = %q; want %q", in, got, want)
		}
	}
	f("INFO", LevelInfo)
	f(" Info ", LevelInfo)
	f("information", LevelInfo)
	f("I", LevelInfo)
	f("V", LevelTrace)
	f("verbose", LevelTrace)
	f("dbg", LevelDebug)
	f("D", LevelDebug)
	f("notice", LevelNotice)
	f("WARNING", LevelWarn)
	f("w", LevelWarn)
	f("Err", LevelError)
	f("SEVERE", LevelError)
	f("crit", LevelFatal)
	f("EMERG", LevelFatal)
	f("alert", LevelFatal)
	f("panic", LevelFatal)
	f("F", LevelFatal)
	f("combo", LevelUnknown)
	f("", LevelUnknown)
	f("informationalx", LevelUnknown)
}

func TestDetectLevelAllocs(t *testing.T) {
	for _, c := range levelCases {
		line := []byte(c.line)
		if n := testing.AllocsPerRun(10, func() { DetectLevel(line) }); n != 0 {
			t.Errorf("DetectLevel(%q) allocates %v times; want 0", c.line, n)
		}
	}
}

// loghubDir holds the loghub 2k samples shared by the team; it is not part of
// the repository.
const loghubDir = "../../../shared/data/loghub"

// loghubLevels reads the Level column of <name>_2k.log_structured.csv,
// normalised. It returns nil when the file has no Level column.
func loghubLevels(t testing.TB, csvPath string) []string {
	t.Helper()
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatalf("open %s: %v", csvPath, err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", csvPath, err)
	}
	if len(rows) == 0 {
		return nil
	}
	col := slices.Index(rows[0], "Level")
	if col < 0 {
		return nil
	}
	levels := make([]string, 0, len(rows)-1)
	for _, r := range rows[1:] {
		levels = append(levels, NormalizeLevel(r[col]))
	}
	return levels
}

// loghubLines reads a loghub .log file line by line.
func loghubLines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, slices.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return lines
}

// TestLevelAgreementLoghub compares DetectLevel with the hand-labelled Level
// column of the loghub samples, for the files where that column holds levels.
func TestLevelAgreementLoghub(t *testing.T) {
	csvs, _ := filepath.Glob(filepath.Join(loghubDir, "*_2k.log_structured.csv"))
	if len(csvs) == 0 {
		t.Skipf("no loghub samples in %s", loghubDir)
	}
	// minAgreement is the floor per file; minLabelled is the share of a
	// file's Level column that must be recognisable levels for it to count.
	const minAgreement, minLabelled = 0.99, 0.9
	t.Logf("%-12s %6s %6s %8s  %s", "file", "lines", "agree", "percent", "top disagreements (want->got)")
	checked := 0
	for _, csvPath := range csvs {
		name := strings.TrimSuffix(filepath.Base(csvPath), "_2k.log_structured.csv")
		want := loghubLevels(t, csvPath)
		labelled := 0
		for _, lv := range want {
			if lv != LevelUnknown {
				labelled++
			}
		}
		if len(want) == 0 || float64(labelled) < minLabelled*float64(len(want)) {
			t.Logf("%-12s skipped: Level column missing or not levels", name)
			continue
		}
		lines := loghubLines(t, strings.TrimSuffix(csvPath, "_structured.csv"))
		if len(lines) != len(want) {
			t.Fatalf("%s: %d lines but %d CSV rows", name, len(lines), len(want))
		}
		agree := 0
		misses := map[string]int{}
		for i, line := range lines {
			if got := DetectLevel(line); got == want[i] {
				agree++
			} else {
				misses[want[i]+"->"+got]++
			}
		}
		pct := float64(agree) / float64(len(lines))
		t.Logf("%-12s %6d %6d %7.2f%%  %s", name, len(lines), agree, 100*pct, topMisses(misses, 3))
		if pct < minAgreement {
			t.Errorf("%s: agreement %.2f%%; want >= %.0f%%", name, 100*pct, 100*minAgreement)
		}
		checked++
	}
	if checked == 0 {
		t.Errorf("no loghub file had a Level column with levels")
	}
}

func topMisses(m map[string]int, n int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for i, k := range keys {
		if i == n {
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + " x" + strconv.Itoa(m[k]))
	}
	return b.String()
}

// benchLines returns realistic lines of many formats: the loghub samples when
// present, otherwise the unit cases.
func benchLines(b *testing.B) [][]byte {
	logs, _ := filepath.Glob(filepath.Join(loghubDir, "*_2k.log"))
	var lines [][]byte
	for _, p := range logs {
		lines = append(lines, loghubLines(b, p)...)
	}
	if len(lines) == 0 {
		for _, c := range levelCases {
			lines = append(lines, []byte(c.line))
		}
	}
	return lines
}

func BenchmarkDetectLevel(b *testing.B) {
	lines := benchLines(b)
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		DetectLevel(lines[i%len(lines)])
	}
}

func FuzzDetectLevel(f *testing.F) {
	for _, c := range levelCases {
		f.Add([]byte(c.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		got := DetectLevel(line)
		switch got {
		case LevelTrace, LevelDebug, LevelInfo, LevelNotice, LevelWarn, LevelError, LevelFatal, LevelUnknown:
		default:
			t.Fatalf("DetectLevel(%q) = %q; want a Level constant", line, got)
		}
	})
}
