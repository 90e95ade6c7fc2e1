#!/usr/bin/python3
"""An M/M/c queue in SimPy 2, the baseline that `ragsim bench mmc` is measured against.

    /usr/bin/python3 simpy_mmc.py LAMBDA MU C HORIZON SEED
    /usr/bin/python3 simpy_mmc.py 9 1 10 20000 1

Customers arrive in a Poisson stream of rate LAMBDA per second, each one a
SimPy process that requests one of C servers (a Resource of capacity C,
first come first served), holds it for an Exp(MU) service time and releases
it. The run stops at HORIZON simulated seconds. Printed, on one line:
customers served (service completed by the horizon), their mean wait in the
queue (arrival to service start) next to Erlang C's exact value, the wall
time of the simulation, and customers served per wall-second.

Written for the SimPy that Debian 12 ships (python3-simpy 2.3.1, the classic
`SimPy.Simulation` API); run it with Debian's /usr/bin/python3.
"""
import math
import random
import sys
import time

from SimPy.Simulation import Process, Resource, activate, hold, initialize, now, release, request, simulate

USAGE = "usage: simpy_mmc.py LAMBDA MU C HORIZON SEED   (rates per second, C servers, HORIZON seconds)"


def erlang_c_wait(lam, mu, c):
    """Mean wait in queue of M/M/c (Erlang C); inf when the queue is unstable."""
    a = lam / mu
    if a >= c:
        return math.inf
    term, below = 1.0, 0.0  # term = a^k / k!
    for k in range(c):
        below += term
        term *= a / (k + 1)
    queued = term * c / (c - a)  # a^c / c! * c / (c - a)
    return queued / (below + queued) / (c * mu - lam)


class Tally:
    """Completed customers and the sum of their waits."""

    def __init__(self):
        self.served = 0
        self.wait_sum = 0.0


class Customer(Process):
    def visit(self, servers, service, tally):
        arrived = now()
        yield request, self, servers
        waited = now() - arrived
        yield hold, self, service
        yield release, self, servers
        tally.served += 1
        tally.wait_sum += waited


class Arrivals(Process):
    def run(self, lam, mu, servers, tally, gaps, services):
        while True:
            yield hold, self, gaps.expovariate(lam)
            c = Customer()
            activate(c, c.visit(servers, services.expovariate(mu), tally))


def main(argv):
    try:
        lam, mu, c, horizon, seed = float(argv[1]), float(argv[2]), int(argv[3]), float(argv[4]), int(argv[5])
        if len(argv) != 6 or not (lam > 0 and mu > 0 and c > 0 and horizon > 0):
            raise ValueError
    except (IndexError, ValueError):
        print(USAGE, file=sys.stderr)
        return 2

    # two independent streams: inter-arrival gaps and service times
    gaps, services = random.Random(seed), random.Random(seed + 0x9E3779B9)
    tally = Tally()
    initialize()
    servers = Resource(capacity=c, name="servers")
    source = Arrivals()
    activate(source, source.run(lam, mu, servers, tally, gaps, services))
    t0 = time.perf_counter()
    simulate(until=horizon)
    wall = time.perf_counter() - t0

    mean_wait = tally.wait_sum / tally.served if tally.served else math.nan
    print(f"customers={tally.served} mean_wait={mean_wait:.5f} erlang_c={erlang_c_wait(lam, mu, c):.5f} "
          f"wall_s={wall:.3f} customers_per_s={tally.served / wall:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
