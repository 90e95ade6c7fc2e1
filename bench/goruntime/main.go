// goruntime-bench: a small Go service run as a benchmark of the Go runtime
// (GC pacer, GOMEMLIMIT, GC CPU limiter) under ragsim's Go runtime model.
//
// Worker goroutines serve requests (closed loop, or open loop at -rate);
// each request allocates -alloc bytes of garbage in -obj byte objects,
// spins -work of CPU, and optionally leaks -leak bytes into a cache of
// -entry byte entries that are pointer-free ([]byte or []float32) or
// pointer-bearing (nodes made of pointers). The cache may be preloaded
// (-cache). GOGC, GOMEMLIMIT and GOMAXPROCS come from the command line. A
// container limit can be emulated (-oom): the process "is killed" (stops
// and reports the time) when its RSS first exceeds it.
//
// Output: one CSV row (with -header, the header first) on stdout with the
// throughput, latency quantiles, GC cycles, GC CPU, heap and RSS; with
// -series FILE a time series (one row per -sample). Standard library only.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ---- sizes ----------------------------------------------------------------

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "" {
		return -1, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			mult = u.m
			s = strings.TrimSuffix(s, u.suf)
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("expected a size such as 300MiB, 1KiB, 4096 or off, got %q", s)
	}
	return int64(v * float64(mult)), nil
}

type sizeFlag struct{ v int64 }

func (f *sizeFlag) String() string { return strconv.FormatInt(f.v, 10) }
func (f *sizeFlag) Set(s string) error {
	v, err := parseSize(s)
	f.v = v
	return err
}

// ---- the cache ------------------------------------------------------------

// pnode is a pointer-bearing cache entry: every word is a pointer (scanned
// by the marker); link[0] is the previous entry, link[1] an earlier one.
type pnode struct{ link []*pnode }

type cache struct {
	mu    sync.Mutex
	kind  string
	entry int
	bytes [][]byte
	flts  [][]float32
	nodes []*pnode
	n     int64
	size  int64 // bytes held in entries
}

func (c *cache) add(nbytes int64) {
	c.mu.Lock()
	for nbytes > 0 {
		switch c.kind {
		case "bytes":
			b := make([]byte, c.entry)
			b[0] = byte(c.n)
			c.bytes = append(c.bytes, b)
		case "floats":
			f := make([]float32, c.entry/4)
			f[0] = float32(c.n)
			c.flts = append(c.flts, f)
		case "ptrs":
			p := &pnode{link: make([]*pnode, c.entry/8)}
			if k := len(c.nodes); k > 0 {
				p.link[0] = c.nodes[k-1]
				p.link[1] = c.nodes[(k*7919)%k]
			}
			c.nodes = append(c.nodes, p)
		}
		c.n++
		c.size += int64(c.entry)
		nbytes -= int64(c.entry)
	}
	c.mu.Unlock()
}

// ---- work -----------------------------------------------------------------

var itersPerUS float64

func spin(iters int64) float64 {
	x := 1.0
	for i := int64(0); i < iters; i++ {
		x = x*1.0000001 + 1e-9
	}
	return x
}

// calibrate measures the spin loop's speed: the fastest of 40 runs of
// 1<<16 iterations (the fastest run is the one least disturbed by other
// processes on a shared machine).
func calibrate() {
	const n = 1 << 16
	best := time.Duration(math.MaxInt64)
	for i := 0; i < 40; i++ {
		t := time.Now()
		sinks[255].x += spin(n)
		if d := time.Since(t); d < best {
			best = d
		}
	}
	itersPerUS = float64(n) / (float64(best.Nanoseconds()) / 1e3)
}

type sink struct {
	b []byte
	x float64
	_ [40]byte
}

var sinks [256]sink

// ---- latency histogram: log buckets, 2% wide, 1 us .. ~1000 s ---------------

const hb = 1100

type hist struct {
	c [hb]uint64
	n uint64
}

func (h *hist) add(sec float64) {
	us := sec * 1e6
	i := 0
	if us > 1 {
		i = int(math.Log(us) / math.Log(1.02))
	}
	if i >= hb {
		i = hb - 1
	}
	h.c[i]++
	h.n++
}

func (h *hist) q(p float64) float64 {
	if h.n == 0 {
		return math.NaN()
	}
	want := uint64(math.Ceil(p * float64(h.n)))
	var s uint64
	for i := 0; i < hb; i++ {
		s += h.c[i]
		if s >= want {
			return math.Pow(1.02, float64(i)+0.5) / 1e6
		}
	}
	return math.NaN()
}

// ---- process readings ------------------------------------------------------

var pageSize = int64(os.Getpagesize())

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	v, _ := strconv.ParseInt(f[1], 10, 64)
	return v * pageSize
}

type usage struct{ user, sys, minflt float64 }

func getUsage() usage {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return usage{float64(ru.Utime.Nano()) / 1e9, float64(ru.Stime.Nano()) / 1e9, float64(ru.Minflt)}
}

// Seconds this process's threads spent runnable but waiting for a CPU
// (/proc/self/task/*/schedstat, second field): how contended the machine was.
func runWait() float64 {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return math.NaN()
	}
	var s float64
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) >= 2 {
			v, _ := strconv.ParseFloat(f[1], 64)
			s += v / 1e9
		}
	}
	return s
}

func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	v, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return v
}

var msamples = []metrics.Sample{
	{Name: "/gc/cycles/total:gc-cycles"},
	{Name: "/gc/heap/goal:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
	{Name: "/gc/limiter/last-enabled:gc-cycle"},
	{Name: "/memory/classes/total:bytes"},
}

type mread struct {
	cycles, goal, heapObj, released, limiterCycle, total float64
}

func readMetrics() mread {
	metrics.Read(msamples)
	v := func(i int) float64 {
		if msamples[i].Value.Kind() == metrics.KindUint64 {
			return float64(msamples[i].Value.Uint64())
		}
		return math.NaN()
	}
	return mread{v(0), v(1), v(2), v(3), v(4), v(5)}
}

// GC CPU-seconds since the process started, from MemStats.GCCPUFraction
// (Go 1.19: mark workers, assists and STW pauses; not idle marking, not
// sweeping, not scavenging).
func gcCPU(start time.Time, procs int) (float64, float64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.GCCPUFraction * time.Since(start).Seconds() * float64(procs), ms.GCCPUFraction
}

// ---- main -----------------------------------------------------------------

func main() {
	procStart := time.Now()
	var (
		alloc, obj, cacheSz, leak, entry, memlimit, oom sizeFlag
	)
	alloc.v, obj.v, entry.v, memlimit.v, oom.v = 1<<20, 1024, 1024, -1, -1
	flag.Var(&alloc, "alloc", "garbage allocated per request, a size (1MiB)")
	flag.Var(&obj, "obj", "size of each garbage object, a size (1KiB)")
	flag.Var(&cacheSz, "cache", "cache preloaded before the measurement, a size (0)")
	flag.Var(&leak, "leak", "bytes leaked into the cache per request, a size (0)")
	flag.Var(&entry, "entry", "cache entry size, a size (1KiB)")
	flag.Var(&memlimit, "memlimit", "GOMEMLIMIT, a size or off (off)")
	flag.Var(&oom, "oom", "emulated container limit: stop when RSS first exceeds it, a size or off (off)")
	kind := flag.String("kind", "bytes", "cache entries: bytes ([]byte), floats ([]float32) or ptrs (pointer nodes)")
	work := flag.Duration("work", 100*time.Microsecond, "CPU work per request (spin), a duration")
	workers := flag.Int("workers", 1, "worker goroutines")
	rate := flag.Float64("rate", 0, "requests/s offered (open loop); 0 = closed loop")
	gogc := flag.String("gogc", "100", "GOGC percent or off")
	procs := flag.Int("procs", 2, "GOMAXPROCS")
	dur := flag.Duration("duration", 8*time.Second, "measurement length")
	sample := flag.Duration("sample", 250*time.Millisecond, "time-series interval")
	series := flag.String("series", "", "write the time series (CSV) to this file")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile of the measurement to this file")
	label := flag.String("label", "", "a label copied into the output row")
	header := flag.Bool("header", false, "print the CSV header before the row")
	flag.Parse()
	if *kind != "bytes" && *kind != "floats" && *kind != "ptrs" {
		fmt.Fprintf(os.Stderr, "goruntime-bench: -kind: expected bytes, floats or ptrs, got %q\n", *kind)
		os.Exit(2)
	}
	if obj.v <= 0 || entry.v < 16 || *workers < 1 || *procs < 1 || *rate < 0 || *dur <= 0 || *sample <= 0 {
		fmt.Fprintln(os.Stderr, "goruntime-bench: -obj > 0, -entry >= 16, -workers >= 1, -procs >= 1, -rate >= 0, -duration > 0, -sample > 0")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*procs)
	if *gogc == "off" {
		debug.SetGCPercent(-1)
	} else if v, err := strconv.Atoi(*gogc); err == nil && v >= 0 {
		debug.SetGCPercent(v)
	} else {
		fmt.Fprintf(os.Stderr, "goruntime-bench: -gogc: expected a percent >= 0 or off, got %q\n", *gogc)
		os.Exit(2)
	}
	if memlimit.v >= 0 {
		debug.SetMemoryLimit(memlimit.v)
	}
	calibrate()
	workIters := int64(itersPerUS * float64(work.Microseconds()))

	c := &cache{kind: *kind, entry: int(entry.v)}
	c.add(cacheSz.v)
	runtime.GC()

	var prof *os.File
	if *cpuprof != "" {
		var err error
		if prof, err = os.Create(*cpuprof); err != nil {
			fmt.Fprintln(os.Stderr, "goruntime-bench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(prof)
	}

	var done int64
	var stop int32
	hists := make([]*hist, *workers)
	nobj := alloc.v / obj.v
	serve := func(w int) {
		for i := int64(0); i < nobj; i++ {
			b := make([]byte, obj.v)
			b[0] = byte(i)
			sinks[w&255].b = b
		}
		sinks[w&255].x += spin(workIters)
		if leak.v > 0 {
			c.add(leak.v)
		}
	}
	var wg sync.WaitGroup
	t0 := time.Now()
	m0 := readMetrics()
	u0 := getUsage()
	w0 := runWait()
	load := loadAvg()
	g0, _ := gcCPU(procStart, *procs)
	var queue chan time.Time
	if *rate > 0 {
		queue = make(chan time.Time, 1<<20)
		go func() {
			period := time.Duration(float64(time.Second) / *rate)
			next := t0
			for atomic.LoadInt32(&stop) == 0 {
				now := time.Now()
				for !next.After(now) {
					select {
					case queue <- next:
					default:
					}
					next = next.Add(period)
				}
				time.Sleep(next.Sub(now))
			}
			close(queue)
		}()
	}
	for w := 0; w < *workers; w++ {
		hists[w] = &hist{}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			h := hists[w]
			if queue == nil {
				for atomic.LoadInt32(&stop) == 0 {
					s := time.Now()
					serve(w)
					h.add(time.Since(s).Seconds())
					atomic.AddInt64(&done, 1)
				}
				return
			}
			for arr := range queue {
				if atomic.LoadInt32(&stop) != 0 {
					continue
				}
				serve(w)
				h.add(time.Since(arr).Seconds())
				atomic.AddInt64(&done, 1)
			}
		}(w)
	}

	// Sampler: RSS every 5 ms for the emulated OOM kill; the series every -sample.
	var sw *bufio.Writer
	if *series != "" {
		f, err := os.Create(*series)
		if err != nil {
			fmt.Fprintln(os.Stderr, "goruntime-bench:", err)
			os.Exit(1)
		}
		defer f.Close()
		sw = bufio.NewWriter(f)
		defer sw.Flush()
		fmt.Fprintln(sw, "t_s,requests,gc_cycles,gc_cpu_fraction,heap_objects_bytes,heap_goal_bytes,rss_bytes,cache_bytes")
	}
	killed := false
	killT, killCPU := math.NaN(), math.NaN()
	var peakRSS, peakHeap int64
	nextSample := t0
	for {
		now := time.Now()
		el := now.Sub(t0)
		r := rss()
		if r > peakRSS {
			peakRSS = r
		}
		if oom.v >= 0 && r > oom.v {
			killed, killT = true, el.Seconds()
			uk := getUsage()
			killCPU = uk.user + uk.sys - u0.user - u0.sys
			break
		}
		if el >= *dur {
			break
		}
		if !now.Before(nextSample) {
			m := readMetrics()
			if int64(m.heapObj) > peakHeap {
				peakHeap = int64(m.heapObj)
			}
			if sw != nil {
				_, frac := gcCPU(procStart, *procs)
				c.mu.Lock()
				cs := c.size
				c.mu.Unlock()
				fmt.Fprintf(sw, "%.3f,%d,%.0f,%.4f,%.0f,%.0f,%d,%d\n", el.Seconds(), atomic.LoadInt64(&done),
					m.cycles, frac, m.heapObj, m.goal, r, cs)
			}
			nextSample = nextSample.Add(*sample)
		}
		time.Sleep(5 * time.Millisecond)
	}
	atomic.StoreInt32(&stop, 1)
	el := time.Since(t0).Seconds()
	n := atomic.LoadInt64(&done)
	m1 := readMetrics()
	u1 := getUsage()
	w1 := runWait()
	g1, frac := gcCPU(procStart, *procs)
	if prof != nil {
		pprof.StopCPUProfile()
		prof.Close()
	}
	if !killed {
		wg.Wait()
	}
	var all hist
	for _, h := range hists {
		for i := range h.c {
			all.c[i] += h.c[i]
		}
		all.n += h.n
	}
	c.mu.Lock()
	csize := c.size
	c.mu.Unlock()
	if *header {
		fmt.Println("label,kind,cache_bytes,leak_bytes,entry_bytes,alloc_bytes,obj_bytes,work_us,workers,rate_rps,procs,gogc,gomemlimit_bytes,oom_bytes," +
			"spin_iters_per_us,duration_s,requests,throughput_rps,p50_ms,p99_ms,p999_ms,gc_cycles,gc_cycles_per_s,gc_cpu_s,gc_cpu_fraction_window,gc_cpu_fraction_total," +
			"user_cpu_s,sys_cpu_s,requests_per_cpu_s,run_wait_s,load_avg_1m,minor_faults,limiter_last_cycle,heap_goal_end_bytes,peak_heap_bytes,peak_rss_bytes,cache_end_bytes,released_end_bytes,killed,kill_time_s,kill_cpu_s")
	}
	ml := memlimit.v
	om := oom.v
	fmt.Printf("%s,%s,%d,%d,%d,%d,%d,%d,%d,%g,%d,%s,%d,%d,%.1f,%.3f,%d,%.2f,%.3f,%.3f,%.3f,%.0f,%.3f,%.3f,%.4f,%.4f,%.3f,%.3f,%.2f,%.3f,%.2f,%.0f,%.0f,%.0f,%d,%d,%d,%.0f,%d,%.3f,%.3f\n",
		*label, *kind, cacheSz.v, leak.v, entry.v, alloc.v, obj.v, work.Microseconds(), *workers, *rate, *procs, *gogc, ml, om,
		itersPerUS, el, n, float64(n)/el, all.q(0.5)*1e3, all.q(0.99)*1e3, all.q(0.999)*1e3,
		m1.cycles-m0.cycles, (m1.cycles-m0.cycles)/el, g1-g0, (g1-g0)/(el*float64(*procs)), frac,
		u1.user-u0.user, u1.sys-u0.sys, float64(n)/(u1.user+u1.sys-u0.user-u0.sys), w1-w0, load,
		u1.minflt-u0.minflt, m1.limiterCycle, m1.goal, peakHeap, peakRSS, csize, m1.released,
		map[bool]int{false: 0, true: 1}[killed], killT, killCPU)
	if killed {
		if sw != nil {
			sw.Flush() // os.Exit skips the deferred flush
		}
		os.Exit(0)
	}
}
