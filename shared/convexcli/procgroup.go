package convexcli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Member is one process of a process group as /proc shows it.
type Member struct {
	PID, PPID int
	State     string // the state letter of /proc/<pid>/stat: R, S, Z, …
	Comm      string
	CPU       time.Duration // user+sys time so far (utime+stime at USER_HZ = 100)
}

// GroupMembers lists the processes whose process group is pgid, zombies included. It reads
// /proc, so it works for processes of any parent.
func GroupMembers(pgid int) ([]Member, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("convexcli: list /proc: %w", err)
	}
	var out []Member
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		m, pg, ok := parseStat(pid, string(b))
		if ok && pg == pgid {
			out = append(out, m)
		}
	}
	return out, nil
}

// parseStat reads pid, comm, state, ppid and pgrp from a /proc/<pid>/stat line. comm is in
// parentheses and may itself hold spaces and parentheses, so the fields after it are found from
// the last ')'.
func parseStat(pid int, stat string) (Member, int, bool) {
	open, closing := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || closing < open {
		return Member{}, 0, false
	}
	f := strings.Fields(stat[closing+1:])
	if len(f) < 3 {
		return Member{}, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return Member{}, 0, false
	}
	m := Member{PID: pid, PPID: ppid, State: f[0], Comm: stat[open+1 : closing]}
	if len(f) > 12 { // fields 14 and 15 of stat(5): utime, stime in clock ticks
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		m.CPU = time.Duration(ut+st) * (time.Second / userHZ)
	}
	return m, pgrp, true
}

// userHZ is the unit of /proc's CPU times; Linux fixes it at 100 for user space.
const userHZ = 100

// signalGroup sends sig to every process of the group. A group that no longer exists is not an
// error.
func signalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return fmt.Errorf("convexcli: refusing to signal process group %d", pgid)
	}
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("convexcli: signal group %d: %w", pgid, err)
	}
	return nil
}

// Alive reports whether m still runs or is a zombie that this process must reap. A zombie whose
// parent is another process holds nothing and is that parent's to reap.
func (m Member) Alive() bool { return m.State != "Z" || m.PPID == os.Getpid() }

// endGroup kills whatever is left of the group, reaps the members that are this process's
// children (orphans are re-parented to PID 1 or a subreaper; in a container that may be this
// process), and waits until /proc shows no live member, or the deadline passes. It returns the
// CPU time the members that were still running had used, which no wait accounts for.
func endGroup(pgid int, deadline time.Time) (time.Duration, error) {
	self := os.Getpid()
	var cpu time.Duration
	if before, err := GroupMembers(pgid); err == nil {
		for _, m := range before {
			if m.State != "Z" {
				cpu += m.CPU
			}
		}
	}
	for {
		if err := signalGroup(pgid, syscall.SIGKILL); err != nil {
			return cpu, err
		}
		left, err := GroupMembers(pgid)
		if err != nil {
			return cpu, err
		}
		for _, m := range left {
			if m.PPID == self {
				var ws syscall.WaitStatus
				// Only this exact pid: other children's statuses belong to os/exec.
				_, _ = syscall.Wait4(m.PID, &ws, syscall.WNOHANG, nil)
			}
		}
		alive := left[:0]
		for _, m := range left {
			if m.Alive() {
				alive = append(alive, m)
			}
		}
		left = alive
		if len(left) == 0 {
			return cpu, nil
		}
		if time.Now().After(deadline) {
			return cpu, fmt.Errorf("convexcli: process group %d still holds %d process(es) after kill", pgid, len(left))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
