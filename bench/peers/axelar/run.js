'use strict';
// The bench's run of the peer, @axelar-network/axelar-local-dev, on the same two workloads
// as pvd's relay figures. Started by `python -m pvd.bench.peers` (which compiles
// PeerApp.sol and passes its artifacts); prints one line of JSON, prefixed "RESULT ".
//
// Chains: the package's own (createNetwork: two in-process ganache chains, the way its
// README starts a local pair). Relayer: the package's own EVM relayer, its relay() called
// back to back while a workload runs (its exported runner calls it every 2 s by default;
// back to back is the fastest it can go). A message counts as executed when the bench
// first sees the receiver's Received log for it: it reads them every POLL_MS while it
// waits (also while a relay() call runs, since one call executes every call it found,
// one transaction each) and after each relay() call.
//
// Approvals: the package's relayer approves every call that one relay() call found in a
// single gateway transaction at a fixed gas limit of 8,000,000, about 65,000 gas a call,
// so one relay() call that finds more than about 120 calls runs out of gas: the approval
// reverts, relay() throws, and the calls are never relayed (the relayer has already moved
// past their blocks). With APPROVAL_CHUNK > 0 the bench wraps the relayer's
// executeEvmGateway so that it sends those approvals as consecutive gateway transactions
// of at most APPROVAL_CHUNK calls each (each signed as the package signs one); 0 runs
// the package as shipped.
//
//   node run.js ARTIFACTS_JSON LATENCY_MESSAGES BURSTS [STALL_SECONDS] [APPROVAL_CHUNK]
//   e.g. node run.js peer-app.json 50 200,1000 60 100
const fs = require('fs');
const { performance } = require('perf_hooks');
const { ethers } = require('ethers');
const local = require('@axelar-network/axelar-local-dev');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const FEE = ethers.utils.parseEther('0.001'); // paid gas for each message's execution
const PER_TRANSACTION = 25; // a burst's messages per send transaction
const POLL_MS = 20; // how often the bench reads the receiver's logs while it waits

function percentile(values, q) {
    const ordered = [...values].sort((a, b) => a - b);
    return ordered[Math.min(ordered.length - 1, Math.round(q * (ordered.length - 1)))];
}

function summaryMs(samples) {
    const round = (v) => Math.round(v * 10) / 10;
    return {
        messages: samples.length,
        p50: round(percentile(samples, 0.5)),
        p99: round(percentile(samples, 0.99)),
        mean: round(samples.reduce((a, b) => a + b, 0) / samples.length),
        max: round(Math.max(...samples)),
        samples: samples.map(round),
    };
}

async function deploy(artifact, wallet, args) {
    const factory = new ethers.ContractFactory(artifact.abi, artifact.bin, wallet);
    const contract = await factory.deploy(...args);
    await contract.deployed();
    return contract;
}

// The relayer's gateway approvals, each recorded (block, status, gas used and limit) in
// `approvals`; with `size` > 0 sent in consecutive transactions of at most `size` calls
// (see the header): the package's own executeEvmGateway, called once per chunk.
function watchApprovals(relayer, size, approvals) {
    const approve = relayer.executeEvmGateway.bind(relayer);
    const once = async (to, commands) => {
        let receipt;
        try {
            receipt = await approve(to, commands);
        } catch (error) {
            receipt = error && error.receipt; // reverted: ethers puts its receipt here
            if (receipt) await record(to, receipt, commands.length);
            throw error;
        }
        await record(to, receipt, commands.length);
        return receipt;
    };
    const record = async (to, receipt, calls) => {
        const tx = await to.provider.getTransaction(receipt.transactionHash);
        approvals.push({
            at: performance.now(), // when its receipt was in (made relative to a burst's start)
            block: receipt.blockNumber,
            calls,
            status: receipt.status,
            gas_used: receipt.gasUsed.toNumber(),
            gas_limit: tx.gasLimit.toNumber(),
        });
    };
    relayer.executeEvmGateway = async (to, commands) => {
        if (!(size > 0)) return once(to, commands);
        let last;
        for (let start = 0; start < commands.length; start += size) {
            last = await once(to, commands.slice(start, start + size));
        }
        return last;
    };
}

async function main() {
    const [artifactsPath, latencyArg, burstsArg, stallArg, chunkArg] = process.argv.slice(2);
    const artifacts = JSON.parse(fs.readFileSync(artifactsPath, 'utf8'));
    const latencyMessages = Number(latencyArg);
    const bursts = burstsArg ? burstsArg.split(',').map(Number) : [];
    const stallMs = 1000 * Number(stallArg || 60);
    const approvalChunk = Number(chunkArg || 0);
    const approvals = [];
    watchApprovals(local.evmRelayer, approvalChunk, approvals);
    const quiet = { log: () => undefined };
    local.setLogger(quiet.log);

    const started = performance.now();
    const payment = await local.createNetwork({ name: 'Payment' });
    const business = await local.createNetwork({ name: 'Business' });
    const wallet = payment.userWallets[0];
    const sender = await deploy(artifacts.PeerSender, wallet, [
        payment.gateway.address,
        payment.gasService.address,
    ]);
    const receiver = await deploy(artifacts.PeerReceiver, business.userWallets[0], [
        business.gateway.address,
    ]);
    const setupSeconds = (performance.now() - started) / 1000;

    const executedAt = new Map();
    let lastBlock = await business.provider.getBlockNumber();
    let relaying = false;
    let stopped = false;
    const errors = [];
    let relayCalls = 0;

    // The receiver's new Received logs, each stamped with when the bench first saw it;
    // one read at a time (the relay loop and waitFor both call it).
    let collecting = null;
    function collect() {
        if (!collecting) collecting = readReceived().finally(() => (collecting = null));
        return collecting;
    }

    async function readReceived() {
        const now = performance.now();
        const head = await business.provider.getBlockNumber();
        if (head <= lastBlock) return;
        const logs = await receiver.queryFilter(receiver.filters.Received(), lastBlock + 1, head);
        for (const log of logs) {
            const number = log.args.number.toNumber();
            if (!executedAt.has(number)) executedAt.set(number, now);
        }
        lastBlock = head;
    }

    const loop = (async () => {
        while (!stopped) {
            if (!relaying) {
                await sleep(2);
                continue;
            }
            relayCalls += 1;
            try {
                await local.relay();
            } catch (error) {
                errors.push(String(error && error.reason ? error.reason : error).slice(0, 300));
            }
            await collect();
        }
    })();

    const sentNumber = (receipt) =>
        receipt.events.find((event) => event.event === 'Sent').args.number.toNumber();

    async function send() {
        const tx = await sender.send(business.name, receiver.address, { value: FEE });
        return { number: sentNumber(await tx.wait()) };
    }

    // `count` messages, PER_TRANSACTION in each send transaction (PeerSender.sendMany:
    // each message as `send` makes it, its execution paid FEE): their numbers.
    async function sendMany(count) {
        const numbers = [];
        for (let start = 0; start < count; start += PER_TRANSACTION) {
            const n = Math.min(PER_TRANSACTION, count - start);
            const tx = await sender.sendMany(business.name, receiver.address, n, {
                value: FEE.mul(n),
                gasLimit: 200000 * n,
            });
            const receipt = await tx.wait();
            for (const event of receipt.events) {
                if (event.event === 'Sent') numbers.push(event.args.number.toNumber());
            }
        }
        return numbers;
    }

    // Until every one of `numbers` has executed (true), or the relayer made no progress
    // for stallMs (false: the rest is lost). Progress is an execution or an approval
    // transaction: one relay() call first approves all it found, at a few seconds per
    // approval transaction of 100 calls on ganache, and executes only after the last, so
    // a burst of 1,000 shows no execution for the first 30-45 s while its relayer works.
    async function waitFor(numbers) {
        const progress = () => executedAt.size + approvals.length;
        let last = progress();
        let progressAt = performance.now();
        while (numbers.some((n) => !executedAt.has(n))) {
            await sleep(POLL_MS);
            await collect(); // while relay() runs too: one call may execute hundreds
            if (progress() !== last) {
                last = progress();
                progressAt = performance.now();
            } else if (performance.now() - progressAt > stallMs) {
                return false;
            }
        }
        return true;
    }

    const result = {
        package: '@axelar-network/axelar-local-dev',
        version: require('@axelar-network/axelar-local-dev/package.json').version,
        node: process.version,
        chains: 'its own: two in-process ganache chains (createNetwork)',
        relayer: 'its own EVM relayer, relay() called back to back while a workload runs',
        setup_seconds: Math.round(setupSeconds * 100) / 100,
        // calls per gateway approval transaction (0: all of a relay() call's in one, as shipped)
        approval_chunk: approvalChunk,
    };

    // 1. single-message latency: one message at a time, relayer running
    const latencyStarted = performance.now();
    relaying = true;
    const latency = [];
    let latencyLost = 0;
    for (let i = 0; i < latencyMessages; i++) {
        const { number } = await send();
        const sentAt = performance.now();
        if (await waitFor([number])) latency.push(executedAt.get(number) - sentAt);
        else latencyLost += 1;
    }
    relaying = false;
    await sleep(20);
    if (latency.length) result.latency_ms = summaryMs(latency);
    result.latency_lost = latencyLost;
    result.latency_seconds = Math.round((performance.now() - latencyStarted) / 10) / 100;

    // 2. bursts: N messages sent with the relayer stopped, then the relayer started
    result.bursts = {};
    for (const size of bursts) {
        const errorsBefore = errors.length;
        const callsBefore = relayCalls;
        const approvalsBefore = approvals.length;
        const numbers = [];
        const making = performance.now();
        numbers.push(...(await sendMany(size)));
        const ready = performance.now();
        relaying = true;
        const complete = await waitFor(numbers);
        relaying = false;
        await sleep(20);
        const done = numbers.filter((n) => executedAt.has(n)).map((n) => executedAt.get(n));
        const wall = done.length ? (Math.max(...done) - ready) / 1000 : null;
        result.bursts[String(size)] = {
            messages: size,
            delivered: done.length,
            lost: size - done.length,
            complete,
            wall_seconds: wall === null ? null : Math.round(wall * 1000) / 1000,
            messages_per_second: wall ? Math.round((done.length / wall) * 10) / 10 : 0,
            first_delivery_seconds: done.length
                ? Math.round(((Math.min(...done) - ready) / 1000) * 1000) / 1000
                : null,
            relay_calls: relayCalls - callsBefore,
            relay_errors: errors.slice(errorsBefore, errorsBefore + 3),
            relay_error_count: errors.length - errorsBefore,
            // the relayer's approval transactions on the destination gateway (as shipped,
            // all of a relay() call's approvals go in one, at the package's fixed gas limit)
            // (each with `seconds`: when its receipt was in, since the relayer started)
            gateway_transactions: approvals.slice(approvalsBefore).map(({ at, ...tx }) => ({
                ...tx,
                seconds: Math.round(at - ready) / 1000,
            })),
            made_in_seconds: Math.round((ready - making) / 10) / 100,
        };
    }
    stopped = true;
    await loop;
    await local.stopAll();
    result.run_seconds = Math.round((performance.now() - started) / 10) / 100;
    console.log('RESULT ' + JSON.stringify(result));
}

main().then(
    () => process.exit(0),
    (error) => {
        console.error(error);
        process.exit(1);
    }
);
