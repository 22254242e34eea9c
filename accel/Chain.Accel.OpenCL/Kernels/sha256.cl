// SHA-256 (FIPS 180-4) kernels of Chain's OpenCL accelerator (OpenCL C 1.2).
//
// sha256_batch: one work-item hashes one whole message (SHA-256 is sequential within a message), reading it from
// one packed buffer at offsets[i] / lengths[i], with an optional one-byte tag before it: digest = SHA-256(tag || m).
// merkle_level: one work-item hashes one pair of nodes, next[i] = SHA-256(tag || level[2i] || level[2i+1]).
// Digests are written as their 32 bytes in the standard (big-endian) order, as the host's Hash32.FromBytes reads them.

#define ROTR(x, n) rotate((uint)(x), (uint)(32 - (n)))
#define CH(x, y, z) bitselect((z), (y), (x))
#define MAJ(x, y, z) bitselect((x), (y), (x) ^ (z))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))

__constant uint K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

static void sha256_init(uint h[8])
{
    h[0] = 0x6a09e667u; h[1] = 0xbb67ae85u; h[2] = 0x3c6ef372u; h[3] = 0xa54ff53au;
    h[4] = 0x510e527fu; h[5] = 0x9b05688cu; h[6] = 0x1f83d9abu; h[7] = 0x5be0cd19u;
}

// One 64-byte block (w: its 16 big-endian words; overwritten by the message schedule).
static void sha256_block(uint h[8], uint w[16])
{
    uint a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    #pragma unroll
    for (int i = 0; i < 64; i++)
    {
        uint wi;
        if (i < 16)
        {
            wi = w[i];
        }
        else
        {
            wi = SSIG1(w[(i - 2) & 15]) + w[(i - 7) & 15] + SSIG0(w[(i - 15) & 15]) + w[i & 15];
            w[i & 15] = wi;
        }
        uint t1 = k + BSIG1(e) + CH(e, f, g) + K[i] + wi;
        uint t2 = BSIG0(a) + MAJ(a, b, c);
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

static void store_digest(__global uchar* out, const uint h[8])
{
    for (int i = 0; i < 8; i++)
    {
        out[4 * i] = (uchar)(h[i] >> 24);
        out[4 * i + 1] = (uchar)(h[i] >> 16);
        out[4 * i + 2] = (uchar)(h[i] >> 8);
        out[4 * i + 3] = (uchar)h[i];
    }
}

static uint be_word(uchar4 q)
{
    return ((uint)q.s0 << 24) | ((uint)q.s1 << 16) | ((uint)q.s2 << 8) | (uint)q.s3;
}

// Byte v of the padded stream: [tag] || message (n bytes in all with the tag) || 0x80 || zeros || bit length (8 bytes).
static uint stream_byte(__global const uchar* m, ulong v, uint prefix, uint tag, ulong n, ulong end)
{
    if (v < prefix) return tag;
    if (v < n) return m[v - prefix];
    if (v == n) return 0x80u;
    if (v + 8 >= end) return (uint)(((n * 8) >> (8 * (end - 1 - v))) & 0xffu);
    return 0;
}

__kernel void sha256_batch(
    __global const uchar* data,
    __global const ulong* offsets,
    __global const uint* lengths,
    uint count,
    uint tagged,
    uint tag,
    __global uchar* digests)
{
    uint id = (uint)get_global_id(0);
    if (id >= count) return;
    __global const uchar* m = data + offsets[id];
    uint prefix = tagged ? 1u : 0u;
    ulong n = (ulong)lengths[id] + prefix;
    ulong blocks = (n + 8) / 64 + 1;
    ulong end = blocks * 64;
    uint h[8];
    uint w[16];
    sha256_init(h);
    for (ulong b = 0; b < blocks; b++)
    {
        ulong v0 = b * 64;
        if (v0 >= prefix && v0 + 64 <= n)
        {
            // A block wholly inside the message: straight loads.
            __global const uchar* p = m + (v0 - prefix);
            for (int j = 0; j < 16; j++) w[j] = be_word(vload4(j, p));
        }
        else
        {
            for (int j = 0; j < 16; j++)
            {
                ulong v = v0 + 4 * j;
                if (v >= prefix && v + 4 <= n)
                {
                    w[j] = be_word(vload4(0, m + (v - prefix)));
                }
                else
                {
                    w[j] = (stream_byte(m, v, prefix, tag, n, end) << 24)
                         | (stream_byte(m, v + 1, prefix, tag, n, end) << 16)
                         | (stream_byte(m, v + 2, prefix, tag, n, end) << 8)
                         | stream_byte(m, v + 3, prefix, tag, n, end);
                }
            }
        }
        sha256_block(h, w);
    }
    store_digest(digests + 32 * (ulong)id, h);
}

__kernel void merkle_level(
    __global const uchar* level,
    uint pairs,
    uint tag,
    __global uchar* next)
{
    uint id = (uint)get_global_id(0);
    if (id >= pairs) return;
    __global const uchar* pair = level + 64 * (ulong)id;
    uint l[8];
    uint r[8];
    for (int i = 0; i < 8; i++)
    {
        l[i] = be_word(vload4(i, pair));
        r[i] = be_word(vload4(i, pair + 32));
    }
    // 65 bytes, tag || left || right: everything shifted one byte to the right.
    uint w[16];
    w[0] = (tag << 24) | (l[0] >> 8);
    for (int i = 1; i < 8; i++) w[i] = (l[i - 1] << 24) | (l[i] >> 8);
    w[8] = (l[7] << 24) | (r[0] >> 8);
    for (int i = 9; i < 16; i++) w[i] = (r[i - 9] << 24) | (r[i - 8] >> 8);
    uint h[8];
    sha256_init(h);
    sha256_block(h, w);
    w[0] = (r[7] << 24) | 0x00800000u;
    for (int i = 1; i < 15; i++) w[i] = 0;
    w[15] = 65 * 8;
    sha256_block(h, w);
    store_digest(next + 32 * (ulong)id, h);
}
