using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace TriageEngine.Host.Api;

/// <summary>The roles of the API (see docs/rest-api.md for the matrix).</summary>
public static class Roles
{
    public const string Reader = "reader";
    public const string Lead = "lead";
    public const string Integrator = "integrator";
    public const string Safety = "safety";
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Reader, Lead, Integrator, Safety, Admin];
}

/// <summary>Authorization policies: each endpoint requires one; each policy names the roles that satisfy it.</summary>
public static class Policies
{
    /// <summary>Who the caller is (the UI's sign-in check).</summary>
    public const string Session = "session";

    /// <summary>Worklist, change feed, study detail, rendered images.</summary>
    public const string ReadWorklist = "worklist:read";

    /// <summary>Claim, release, complete, feedback on AI findings.</summary>
    public const string Read = "reading:write";

    /// <summary>Manual priority override.</summary>
    public const string Override = "priority:override";

    /// <summary>HL7 outbox state.</summary>
    public const string Integration = "integration:read";

    /// <summary>Models and operations figures.</summary>
    public const string Operations = "operations:read";

    /// <summary>Feedback summary and the safety view.</summary>
    public const string Safety = "safety:read";

    /// <summary>Discrepancy review: record a disposition (it feeds the metrics).</summary>
    public const string SafetyReview = "safety:review";

    /// <summary>Final reports from a RIS or reporting system (outcome capture, like ORU^R01).</summary>
    public const string SubmitReports = "reports:write";

    /// <summary>DICOMweb STOW-RS: send instances.</summary>
    public const string StoreInstances = "dicomweb:store";

    public static readonly IReadOnlyDictionary<string, string[]> Matrix = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        [Session] = [Roles.Reader, Roles.Lead, Roles.Integrator, Roles.Safety, Roles.Admin],
        [ReadWorklist] = [Roles.Reader, Roles.Lead, Roles.Safety, Roles.Admin],
        [Read] = [Roles.Reader, Roles.Lead, Roles.Admin],
        [Override] = [Roles.Lead, Roles.Admin],
        [Integration] = [Roles.Integrator, Roles.Admin],
        [StoreInstances] = [Roles.Integrator, Roles.Admin],
        [Operations] = [Roles.Lead, Roles.Integrator, Roles.Safety, Roles.Admin],
        [Safety] = [Roles.Lead, Roles.Safety, Roles.Admin],
        [SafetyReview] = [Roles.Safety, Roles.Admin],
        [SubmitReports] = [Roles.Integrator, Roles.Admin],
    };
}

/// <summary>An API key with a name (the actor recorded for its writes) and roles.</summary>
public sealed record ApiKeyOptions
{
    public string Name { get; init; } = "";
    public string Key { get; init; } = "";
    public List<string> Roles { get; init; } = [];
}

/// <summary>Bearer tokens: HS256 with a shared key; the subject is the actor, "role" claims are the roles.</summary>
public sealed record JwtOptions
{
    /// <summary>At least 32 bytes (UTF-8). Empty: bearer tokens are not accepted.</summary>
    public string? SigningKey { get; init; }
    public string? Issuer { get; init; }
    public string? Audience { get; init; }
}

/// <summary>Section Triage:Auth.</summary>
public sealed record AuthOptions
{
    public const string Section = "Triage:Auth";

    public List<ApiKeyOptions> ApiKeys { get; init; } = [];
    public JwtOptions Jwt { get; init; } = new();

    /// <summary>How long a reader's claim on a study lasts unless renewed.</summary>
    public TimeSpan ClaimLease { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Origins allowed by CORS; empty (the default) sends no CORS headers at all.</summary>
    public List<string> CorsOrigins { get; init; } = [];
}

/// <summary>The caller of a request: the API key's name or the token's subject, recorded with every write.</summary>
public sealed record ApiActor(string Name, string Kind)
{
    public const string ItemKey = "triage.actor";

    public static ApiActor From(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var user = context.User;
        var name = user.Identity?.Name ?? user.FindFirst("sub")?.Value ?? "anonymous";
        var kind = user.Identity?.AuthenticationType ?? "none";
        return new ApiActor(name, kind);
    }
}

/// <summary>The current request's actor, for services that record who did what (audit).</summary>
public interface IApiActorAccessor
{
    ApiActor? Current { get; }
}

internal sealed class ApiActorAccessor(IHttpContextAccessor accessor) : IApiActorAccessor
{
    public ApiActor? Current => accessor.HttpContext is { } c && c.User.Identity?.IsAuthenticated == true ? ApiActor.From(c) : null;
}

internal sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions
{
    public string? AdminKey { get; set; }
    public List<ApiKeyOptions> Keys { get; set; } = [];

    /// <summary>No key and no token issuer configured: every caller is an anonymous administrator (today's open API).</summary>
    public bool Open { get; set; }
}

/// <summary>X-Api-Key: the administrator key (TRIAGE_ADMIN_KEY) or a configured key with roles; compared in fixed time.</summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<ApiKeyAuthenticationOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string Header = "X-Api-Key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = Request.Headers[Header].ToString();
        if (presented.Length == 0)
        {
            return Task.FromResult(Options.Open ? Success("anonymous", Roles.All) : AuthenticateResult.NoResult());
        }

        var bytes = Encoding.UTF8.GetBytes(presented);
        if (!string.IsNullOrEmpty(Options.AdminKey) && CryptographicOperations.FixedTimeEquals(bytes, Encoding.UTF8.GetBytes(Options.AdminKey)))
        {
            return Task.FromResult(Success("admin", [Roles.Admin]));
        }

        ApiKeyOptions? match = null;
        foreach (var key in Options.Keys)
        {
            // every key is compared so the time does not tell which one matched
            if (key.Key.Length > 0 && CryptographicOperations.FixedTimeEquals(bytes, Encoding.UTF8.GetBytes(key.Key)))
            {
                match = key;
            }
        }

        if (match is not null)
        {
            return Task.FromResult(Success(match.Name, match.Roles));
        }

        return Task.FromResult(Options.Open ? Success("anonymous", Roles.All) : AuthenticateResult.Fail("unknown API key"));
    }

    private AuthenticateResult Success(string name, IEnumerable<string> roles)
    {
        var identity = new ClaimsIdentity(SchemeName, ClaimTypes.Name, ClaimTypes.Role);
        identity.AddClaim(new Claim(ClaimTypes.Name, name));
        foreach (var role in roles)
        {
            identity.AddClaim(new Claim(ClaimTypes.Role, role));
        }

        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Credentials are required: an API key (X-Api-Key) or a bearer token.").ExecuteAsync(Context);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Your role does not allow this operation.").ExecuteAsync(Context);
}

internal static class ApiSecurity
{
    public const string Scheme = "Triage";

    public static AuthOptions Bind(IConfiguration configuration) =>
        configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();

    public static bool IsOpen(TriageOptions options, AuthOptions auth) =>
        string.IsNullOrEmpty(options.AdminKey) && auth.ApiKeys.Count == 0 && string.IsNullOrEmpty(auth.Jwt.SigningKey);

    public static void Add(IServiceCollection services, TriageOptions options, AuthOptions auth)
    {
        foreach (var key in auth.ApiKeys)
        {
            if (string.IsNullOrWhiteSpace(key.Name) || key.Key.Length < 16)
            {
                throw new Cli.CliException(Cli.ExitCodes.Usage, "invalid configuration (Triage:Auth:ApiKeys): every key needs a Name and a Key of at least 16 characters");
            }
        }

        var jwtKey = auth.Jwt.SigningKey;
        if (!string.IsNullOrEmpty(jwtKey) && Encoding.UTF8.GetByteCount(jwtKey) < 32)
        {
            throw new Cli.CliException(Cli.ExitCodes.Usage, "invalid configuration (Triage:Auth:Jwt:SigningKey): HS256 needs at least 32 bytes");
        }

        var open = IsOpen(options, auth);
        var builder = services.AddAuthentication(Scheme)
            .AddPolicyScheme(Scheme, "API key or bearer token", o => o.ForwardDefaultSelector = context =>
                !string.IsNullOrEmpty(jwtKey) && context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? JwtBearerDefaults.AuthenticationScheme
                    : ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<ApiKeyAuthenticationOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, o =>
            {
                o.AdminKey = options.AdminKey;
                o.Keys = auth.ApiKeys;
                o.Open = open;
            });
        if (!string.IsNullOrEmpty(jwtKey))
        {
            builder.AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(jwtKey)),
                    ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                    ValidateIssuer = !string.IsNullOrEmpty(auth.Jwt.Issuer),
                    ValidIssuer = auth.Jwt.Issuer,
                    ValidateAudience = !string.IsNullOrEmpty(auth.Jwt.Audience),
                    ValidAudience = auth.Jwt.Audience,
                    NameClaimType = "sub",
                    RoleClaimType = "role",
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
                o.Events = new JwtBearerEvents
                {
                    OnChallenge = async c =>
                    {
                        c.HandleResponse();
                        c.Response.Headers.WWWAuthenticate = "Bearer";
                        await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "The bearer token is missing, expired or invalid.").ExecuteAsync(c.HttpContext).ConfigureAwait(false);
                    },
                    OnForbidden = c => Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Your role does not allow this operation.").ExecuteAsync(c.HttpContext),
                };
            });
        }

        services.AddAuthorization(o =>
        {
            foreach (var (name, roles) in Policies.Matrix)
            {
                o.AddPolicy(name, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser().RequireRole(roles));
            }
        });
        services.AddHttpContextAccessor();
        services.AddSingleton<IApiActorAccessor, ApiActorAccessor>();
    }
}
