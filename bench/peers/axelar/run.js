'use strict';
// The bench's run of the peer, @axelar-network/axelar-local-dev, on the same two workloads
// as pvd's relay figures. Started by `python -m pvd.bench.peers` (which compiles
// PeerApp.sol and passes its artifacts); prints one line of JSON, prefixed "RESULT ".
//
// Chains: the package's own (createNetwork: two in-process ganache chains, the way its
// README starts a local pair). Relayer: the package's own EVM relayer, its relay() called
// back to back while a workload runs (its exported runner calls it every 2 s by default;
// back to back is the fastest it can go). A message counts as executed when the relay()
// call that executed it returns and the bench reads the receiver's Received log.
//
//   node run.js ARTIFACTS_JSON LATENCY_MESSAGES BURSTS [STALL_SECONDS]
//   e.g. node run.js peer-app.json 50 200,1000 60
const fs = require('fs');
const { performance } = require('perf_hooks');
const { ethers } = require('ethers');
const local = require('@axelar-network/axelar-local-dev');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const FEE = ethers.utils.parseEther('0.001'); // paid gas for each message's execution

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

async function gatewayTransactions(network, fromBlock) {
    const found = [];
    const head = await network.provider.getBlockNumber();
    for (let number = fromBlock; number <= head; number++) {
        const block = await network.provider.getBlockWithTransactions(number);
        for (const tx of block.transactions) {
            if (!tx.to || tx.to.toLowerCase() !== network.gateway.address.toLowerCase()) continue;
            const receipt = await network.provider.getTransactionReceipt(tx.hash);
            found.push({
                block: number,
                status: receipt.status,
                gas_used: receipt.gasUsed.toNumber(),
                gas_limit: tx.gasLimit.toNumber(),
            });
        }
    }
    return found;
}

async function main() {
    const [artifactsPath, latencyArg, burstsArg, stallArg] = process.argv.slice(2);
    const artifacts = JSON.parse(fs.readFileSync(artifactsPath, 'utf8'));
    const latencyMessages = Number(latencyArg);
    const bursts = burstsArg ? burstsArg.split(',').map(Number) : [];
    const stallMs = 1000 * Number(stallArg || 60);
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

    async function collect() {
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

    async function send() {
        const tx = await sender.send(business.name, receiver.address, { value: FEE });
        const receipt = await tx.wait();
        const sent = receipt.events.find((event) => event.event === 'Sent');
        return { number: sent.args.number.toNumber(), receipt };
    }

    async function waitFor(numbers) {
        let last = executedAt.size;
        let progressAt = performance.now();
        while (numbers.some((n) => !executedAt.has(n))) {
            await sleep(1);
            if (executedAt.size !== last) {
                last = executedAt.size;
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
    };

    // 1. single-message latency: one message at a time, relayer running
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

    // 2. bursts: N messages sent with the relayer stopped, then the relayer started
    result.bursts = {};
    for (const size of bursts) {
        const errorsBefore = errors.length;
        const callsBefore = relayCalls;
        const numbers = [];
        const fromBlock = (await business.provider.getBlockNumber()) + 1;
        for (let i = 0; i < size; i++) numbers.push((await send()).number);
        const ready = performance.now();
        relaying = true;
        const complete = await waitFor(numbers);
        relaying = false;
        await sleep(20);
        const done = numbers.filter((n) => executedAt.has(n)).map((n) => executedAt.get(n));
        const approvals = await gatewayTransactions(business, fromBlock);
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
            // the relayer's approval transactions on the destination gateway (all of a
            // relay() call's approvals go in one, at the package's fixed gas limit)
            gateway_transactions: approvals,
        };
    }
    stopped = true;
    await loop;
    await local.stopAll();
    console.log('RESULT ' + JSON.stringify(result));
}

main().then(
    () => process.exit(0),
    (error) => {
        console.error(error);
        process.exit(1);
    }
);
