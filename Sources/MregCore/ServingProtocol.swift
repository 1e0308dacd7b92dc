/// Conventions between mreg's reconciler and model servers that the Open Inference Protocol leaves open.
public enum ServingProtocol {
    /// A request header marking the reconciler's smoke tests: the server answers them like any other
    /// request but never captures them, so they never count as production traffic in monitoring.
    public static let smokeTestHeader = "Mreg-Smoke-Test"
}
