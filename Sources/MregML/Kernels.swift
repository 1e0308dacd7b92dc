import Foundation

/// Pointer-based vector kernels for the hot loops; summation order is fixed, so results are reproducible.
enum Kernels {
    /// Σ a[i] * b[i] with four interleaved partial sums.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var i = 0
        while i + 4 <= n {
            s0 += a[i] * b[i]
            s1 += a[i + 1] * b[i + 1]
            s2 += a[i + 2] * b[i + 2]
            s3 += a[i + 3] * b[i + 3]
            i += 4
        }
        while i < n {
            s0 += a[i] * b[i]
            i += 1
        }
        return (s0 + s1) + (s2 + s3)
    }

    /// y[i] += alpha * x[i].
    @inline(__always)
    static func axpy(_ alpha: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int) {
        for i in 0..<n { y[i] += alpha * x[i] }
    }

    /// log(1 + e^z) without overflow.
    @inline(__always)
    static func softplus(_ z: Double) -> Double {
        z > 0 ? z + Foundation.log1p(Foundation.exp(-z)) : Foundation.log1p(Foundation.exp(z))
    }

    /// 1 / (1 + e^-z) without overflow.
    @inline(__always)
    static func sigmoid(_ z: Double) -> Double {
        if z >= 0 { return 1 / (1 + Foundation.exp(-z)) }
        let e = Foundation.exp(z)
        return e / (1 + e)
    }

    /// Softmax of `z[0..<k]` in place; returns log Σ exp(z) of the input.
    @inline(__always)
    @discardableResult
    static func softmax(_ z: UnsafeMutablePointer<Double>, _ k: Int) -> Double {
        var m = z[0]
        for j in 1..<max(k, 1) where z[j] > m { m = z[j] }
        var sum = 0.0
        for j in 0..<k {
            let e = Foundation.exp(z[j] - m)
            z[j] = e
            sum += e
        }
        let inv = 1 / sum
        for j in 0..<k { z[j] *= inv }
        return m + Foundation.log(sum)
    }
}
