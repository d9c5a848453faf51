// Package dataset generates kubelog's standard benchmark dataset from the
// loghub corpus: real log lines whose digit runs are re-randomised, spread over
// 400 Kubernetes streams and one hour, with a needle planted in exactly 50 lines.
package dataset

import (
	"bufio"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Needle is the token planted in exactly NeedleCount lines.
const (
	Needle      = "needle-7f3a9c"
	NeedleCount = 50
)

// Config describes a dataset. The zero value is not valid; use DefaultConfig.
type Config struct {
	// CorpusDir holds the loghub *_2k.log files.
	CorpusDir string
	// Lines is the total number of entries.
	Lines int
	// Namespaces, PodsPerNamespace and ContainersPerPod give the stream count.
	Namespaces, PodsPerNamespace, ContainersPerPod int
	// Start is the first timestamp; entries spread evenly over Span.
	Start int64
	Span  int64
	// Seed makes the dataset reproducible.
	Seed uint64
}

// DefaultConfig is the standard dataset: 5,000,000 lines, 400 streams, one hour.
func DefaultConfig(corpusDir string) Config {
	return Config{
		CorpusDir:        corpusDir,
		Lines:            5_000_000,
		Namespaces:       8,
		PodsPerNamespace: 25,
		ContainersPerPod: 2,
		Start:            1_790_000_000_000_000_000,
		Span:             int64(3600e9),
		Seed:             42,
	}
}

// Streams is the number of streams the config produces.
func (c Config) Streams() int { return c.Namespaces * c.PodsPerNamespace * c.ContainersPerPod }

// Validate checks the config.
func (c Config) Validate() error {
	if c.Lines < NeedleCount {
		return fmt.Errorf("dataset: lines must be at least %d, got %d", NeedleCount, c.Lines)
	}
	if c.Streams() <= 0 {
		return fmt.Errorf("dataset: namespaces, pods and containers must be positive")
	}
	if c.Span <= 0 {
		return fmt.Errorf("dataset: span must be positive")
	}
	return nil
}

// Generator yields the dataset's entries in ingest order: round-robin over
// streams, each stream's timestamps increasing. It is not safe for concurrent use.
type Generator struct {
	cfg     Config
	sources [][][]byte // per corpus file, its lines
	streams []genStream
	rng     *rand.Rand
	needles map[int]bool // global line index -> carries the needle
	next    int
}

type genStream struct {
	labels logmodel.Labels
	source int // index into sources
	line   int // next line in source
	n      int // lines emitted
	total  int // lines this stream will emit
}

// New loads the corpus and prepares a generator.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(cfg.CorpusDir, "*_2k.log"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("dataset: no *_2k.log files in %s", cfg.CorpusDir)
	}
	sort.Strings(files)
	g := &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))} // #nosec G404 -- a seeded generator of reproducible test data
	for _, f := range files {
		lines, err := readLines(f)
		if err != nil {
			return nil, err
		}
		if len(lines) > 0 {
			g.sources = append(g.sources, lines)
		}
	}
	ns := cfg.Streams()
	for i := 0; i < ns; i++ {
		nsIdx := i / (cfg.PodsPerNamespace * cfg.ContainersPerPod)
		podIdx := (i / cfg.ContainersPerPod) % cfg.PodsPerNamespace
		cIdx := i % cfg.ContainersPerPod
		total := cfg.Lines / ns
		if i < cfg.Lines%ns {
			total++
		}
		g.streams = append(g.streams, genStream{
			labels: logmodel.FromPairs(
				"cluster", "bench",
				"namespace", fmt.Sprintf("ns-%d", nsIdx),
				"pod", fmt.Sprintf("app-%d-%d", nsIdx, podIdx),
				"container", fmt.Sprintf("c%d", cIdx),
			),
			source: i % len(g.sources),
			line:   g.rng.IntN(len(g.sources[i%len(g.sources)])),
			total:  total,
		})
	}
	g.needles = make(map[int]bool, NeedleCount)
	for len(g.needles) < NeedleCount {
		g.needles[g.rng.IntN(cfg.Lines)] = true
	}
	return g, nil
}

func readLines(path string) ([][]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- a corpus file the operator names
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) > 0 {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	return lines, sc.Err()
}

// StreamLabels returns the label sets of all streams, in stream order.
func (g *Generator) StreamLabels() []logmodel.Labels {
	out := make([]logmodel.Labels, len(g.streams))
	for i := range g.streams {
		out[i] = g.streams[i].labels
	}
	return out
}

// Remaining reports how many entries are left.
func (g *Generator) Remaining() int { return g.cfg.Lines - g.next }

// Next fills dst (reusing its capacity and line buffers) with up to n entries
// and returns it. It returns an empty slice when the dataset is exhausted.
func (g *Generator) Next(dst []logmodel.Entry, n int) []logmodel.Entry {
	dst = dst[:0]
	for len(dst) < n {
		var line []byte
		if cap(dst) > len(dst) {
			line = dst[:len(dst)+1][len(dst)].Line[:0]
		}
		si, ts, line, ok := g.next1(line)
		if !ok {
			break
		}
		dst = append(dst, logmodel.Entry{Labels: g.streams[si].labels, Timestamp: ts, Line: line})
	}
	return dst
}

// next1 appends the next entry's line to line and returns its stream index
// and timestamp; ok is false when the dataset is exhausted.
func (g *Generator) next1(line []byte) (si int, ts int64, _ []byte, ok bool) {
	ns := len(g.streams)
	for g.next < g.cfg.Lines {
		si = g.next % ns
		s := &g.streams[si]
		if s.n >= s.total {
			g.next++
			continue
		}
		src := g.sources[s.source]
		raw := src[s.line%len(src)]
		s.line++
		line = g.randomizeDigits(line, raw)
		if g.needles[g.next] {
			line = append(line, " "+Needle...)
		}
		// Even spacing within the stream plus a little jitter, nanosecond precision.
		step := g.cfg.Span / int64(s.total)
		ts = g.cfg.Start + int64(s.n)*step + g.rng.Int64N(step/2+1)
		s.n++
		g.next++
		return si, ts, line, true
	}
	return 0, 0, line, false
}

// randomizeDigits copies src, replacing every digit with a random one. Each
// 64-bit random number yields up to 16 digits: multiplying the remaining
// fraction by 10 takes the next digit from the high word.
func (g *Generator) randomizeDigits(dst, src []byte) []byte {
	dst = append(dst, src...)
	var x uint64
	left := 0
	for i, c := range dst {
		if c-'0' > 9 {
			continue
		}
		if left == 0 {
			x, left = g.rng.Uint64(), 16
		}
		var d uint64
		d, x = bits.Mul64(x, 10)
		left--
		dst[i] = '0' + byte(d)
	}
	return dst
}

// TotalLines is the number of entries the generator yields.
func (g *Generator) TotalLines() int { return g.cfg.Lines }

// Describe returns a one-line summary of the dataset.
func (g *Generator) Describe() string {
	return strconv.Itoa(g.cfg.Lines) + " lines, " + strconv.Itoa(len(g.streams)) + " streams, " +
		strconv.Itoa(len(g.sources)) + " corpus files"
}
