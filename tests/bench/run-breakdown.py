#!/usr/bin/env python3
"""Reads `perf script -F comm,pid,tid,time,event,trace` of `containerops run --rm IMAGE true` runs (see
run-breakdown.sh) and prints where each run's time goes, step by step, as medians over the runs.

The steps are cut at kernel events, so they cost nothing to observe: the CLI's exec, each request it sends and the
first answer it reads, the shim's exec, the container init's clone, its first mount (the shim has moved it into its
cgroups by then), the exec of the container's program and its exit, the CLI's exit."""
import re
import statistics
import sys

LINE = re.compile(r'^\s*(?P<comm>.+?)\s+(?P<pid>\d+)/(?P<tid>\d+)\s+(?P<time>\d+\.\d+):\s+(?P<event>[\w:]+):\s*(?P<trace>.*)$')

events = []
for raw in open(sys.argv[1], errors='replace'):
    m = LINE.match(raw)
    if m:
        events.append((float(m['time']), m['comm'].strip(), int(m['pid']), int(m['tid']), m['event'], m['trace']))
events.sort()

runs = []
current = None
for t, comm, pid, tid, event, trace in events:
    if event == 'sched:sched_process_exec' and re.search(r'filename=\S*bin/containerops pid', trace):
        current = {'pid': pid, 'exec': t, 'sends': [], 'answers': [], 'shim': None, 'init': None,
                   'first_mount': None, 'program': None, 'program_exit': None, 'exit': None}
        runs.append(current)
        continue
    if current is None:
        continue
    if pid == current['pid']:
        if event == 'syscalls:sys_enter_sendto':
            current['sends'].append(t)
        elif event == 'syscalls:sys_exit_recvmsg' and int(trace.split()[-1], 16) < (1 << 63) and int(trace.split()[-1], 16) > 0:
            # The first answer bytes after each request.
            if len(current['answers']) < len(current['sends']):
                current['answers'].append(t)
        elif event == 'sched:sched_process_exit' and pid == tid:
            current['exit'] = t
    elif event == 'sched:sched_process_exec' and 'containerops-shim' in trace and current['shim'] is None:
        current['shim'] = t
        current['shim_pid'] = pid
    elif event == 'sched:sched_process_fork' and current['shim'] is not None and current['init'] is None \
            and comm.startswith('containerops-sh') and pid != current.get('shim_pid'):
        current['init'] = t
        current['init_pid'] = int(re.search(r'child_pid=(\d+)', trace)[1])
    elif event == 'syscalls:sys_enter_mount' and pid == current.get('init_pid') and current['first_mount'] is None:
        current['first_mount'] = t
    elif event == 'sched:sched_process_exec' and pid == current.get('init_pid') and current['program'] is None:
        current['program'] = t
    elif event == 'sched:sched_process_exit' and pid == current.get('init_pid') and current['program'] is not None \
            and current['program_exit'] is None:
        current['program_exit'] = t

# The requests of `run --rm` without a terminal, in the order the CLI sends them: the create, the attach of the output
# and the registration of the wait for the removal (both answered with their headers at once, before the start), the
# start. The answers to the attach and the wait come at the end (the output and the removal).
NAMES = ['create', 'attach', 'wait (removal)', 'start']
rows = {}


def add(name, value):
    rows.setdefault(name, []).append(value * 1000)


complete = 0
for r in runs:
    s, a = r['sends'], r['answers']
    if len(s) < len(NAMES) or len(a) < len(NAMES) or None in (r['shim'], r['init'], r['first_mount'], r['program'], r['program_exit'], r['exit']):
        continue
    complete += 1
    add('CLI start (exec to first request)', s[0] - r['exec'])
    for i, name in enumerate(NAMES):
        if i > 0:
            add(f'  CLI between requests, before {name}', s[i] - a[i - 1])
        if name == 'start':
            add('request start', a[i] - s[i])
            add('  start: daemon before the shim (rootfs mount, bundle, records, cgroups, spawn)', r['shim'] - s[i])
            add('  start: shim exec to container clone (namespaces made)', r['init'] - r['shim'])
            add('  start: clone to first mount (cgroup attach, sync)', r['first_mount'] - r['init'])
            add('  start: mounts, pivot, exec of the program', r['program'] - r['first_mount'])
            add('  start: program exec to the answer (shim report, daemon records)', a[i] - r['program'])
        else:
            add(f'request {name} (to its answer{" headers" if name != "create" else ""})', a[i] - s[i])
    add('program exit to CLI exit (exit recorded, output ended, removal, answer)', r['exit'] - r['program_exit'])
    add('total (exec to exit)', r['exit'] - r['exec'])

print(f'{complete} complete runs of {len(runs)}')
for name, values in rows.items():
    print(f'{name:78s} median {statistics.median(values):6.2f} ms  (min {min(values):6.2f}, max {max(values):6.2f})')
