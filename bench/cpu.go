package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc/stat's times (USER_HZ, 100 on Linux).
const userHZ = 100

// machineCPU is the CPU time every core of the machine has spent busy
// (user, nice, system, irq, softirq, steal: all but idle and iowait)
// since boot, from /proc/stat. The difference over a run is the work the
// run and everything it made (the engine, its containers) cost, plus
// whatever else the machine did meanwhile: run alone.
func machineCPU() (time.Duration, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, fmt.Errorf("/proc/stat is empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", sc.Text())
	}
	var ticks int64
	for i, f := range fields[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// cpuOf runs f and returns the machine's busy CPU time over it.
func cpuOf(f func() error) (time.Duration, error) {
	before, err := machineCPU()
	if err != nil {
		return 0, err
	}
	if err := f(); err != nil {
		return 0, err
	}
	after, err := machineCPU()
	if err != nil {
		return 0, err
	}
	return after - before, nil
}

// clockTicks is /proc/PID/stat's unit (sysconf(_SC_CLK_TCK), 100 on Linux).
const clockTicks = 100

// processCPU is the CPU time (user and system) the running processes
// named name (their /proc/PID/comm) have used, in all.
func processCPU(name string) time.Duration {
	dirs, _ := os.ReadDir("/proc")
	var ticks int64
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ...: comm may hold spaces and parentheses.
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != name {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 13 {
			continue
		}
		// After the comm: state is field 3, utime 14 and stime 15.
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += ut + st
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// cpuSplit is where a run's busy CPU time went.
type cpuSplit struct {
	machine, command, dockerd, containerd time.Duration
}

// cpuSplitOf runs f, which runs one command and returns that command's
// own CPU time (with its waited-for children), and splits the machine's
// busy CPU time over it.
func cpuSplitOf(f func() (time.Duration, error)) (cpuSplit, error) {
	d0, c0 := processCPU("dockerd"), processCPU("containerd")
	var s cpuSplit
	var err error
	s.machine, err = cpuOf(func() (err error) {
		s.command, err = f()
		return err
	})
	if err != nil {
		return s, err
	}
	s.dockerd, s.containerd = processCPU("dockerd")-d0, processCPU("containerd")-c0
	return s, nil
}

// String shows the split, the rest being the machine's busy time that
// none of the three used.
func (s cpuSplit) String() string {
	rest := s.machine - s.command - s.dockerd - s.containerd
	return fmt.Sprintf("machine %s: the command %s, dockerd %s, containerd %s, the rest (shims, runc, the containers, anything else) %s",
		fmtDur(s.machine), fmtDur(s.command), fmtDur(s.dockerd), fmtDur(s.containerd), fmtDur(rest))
}

// splits shows each split, "; "-separated.
func splits(ss []cpuSplit) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.String()
	}
	return strings.Join(out, "; ")
}
