using ContainerOps.Compose.Loading;
using ContainerOps.Compose.Output;

namespace ContainerOps.Compose.Tests;

public class LoaderTests
{
    [Fact]
    public void Profiles_enable_services_and_named_services_are_enabled()
    {
        Assert.Equal(new[] { "app" }, Corpus.Load("profiles").Services.Keys);
        Assert.Equal(new[] { "app", "debug", "tools" }, Corpus.Load("profiles", profiles: new() { "debug" }).Services.Keys);
        Assert.Equal(new[] { "app", "tools" }, Corpus.Load("profiles", profiles: new() { "tools" }).Services.Keys);
        Assert.Equal(new[] { "app", "debug", "tools" }, Corpus.Load("profiles", profiles: new() { "*" }).Services.Keys);
        Assert.Equal(new[] { "app", "tools" }, Corpus.Load("profiles", new Dictionary<string, string> { ["COMPOSE_PROFILES"] = "tools" }).Services.Keys);
        Assert.Equal(new[] { "app", "debug" }, Corpus.Load("profiles", services: new() { "debug" }).Services.Keys);
    }

    [Fact]
    public void An_optional_dependency_that_is_missing_is_only_a_warning()
    {
        var project = Corpus.Load("profiles", profiles: new() { "tools" });
        Assert.Contains(project.Warnings, w => w.Contains("services.tools.depends_on.optional", StringComparison.Ordinal));
    }

    [Fact]
    public void Project_name_comes_from_p_then_environment_then_name_then_folder()
    {
        Assert.Equal("given", Corpus.Load("webapp", projectName: "given").Name);
        Assert.Equal("fromenv", Corpus.Load("webapp", new Dictionary<string, string> { ["COMPOSE_PROJECT_NAME"] = "fromenv" }).Name);
        Assert.Equal("webapp", Corpus.Load("webapp").Name);
        Assert.Equal("include-extends", Corpus.Load("include-extends").Name);
        var e = Assert.Throws<ComposeFileException>(() => Corpus.Load("webapp", projectName: "My App"));
        Assert.StartsWith("invalid project name \"My App\" (-p)", e.Message);
    }

    [Theory]
    [InlineData("My.Project_1", "myproject_1")]
    [InlineData("__Web-App", "web-app")]
    [InlineData("héllo wörld", "hllowrld")]
    public void Folder_names_are_normalised_as_docker_compose_does(string folder, string expected) =>
        Assert.Equal(expected, ComposeLoader.NormalizeProjectName(folder));

    [Fact]
    public void Files_given_with_f_merge_in_order_and_the_override_file_is_found_beside_the_main_one()
    {
        var both = Corpus.Load("override");
        Assert.Equal(2, both.ConfigFiles.Count);
        var onlyMain = Corpus.Load("override", files: new() { "compose.yaml" });
        Assert.Equal(new[] { "serve", "--port", "80" }, onlyMain.Services["web"].Command);
        Assert.False(onlyMain.Services.ContainsKey("extra"));
        var reversed = Corpus.Load("override", files: new() { "compose.override.yaml", "compose.yaml" });
        Assert.Equal(new[] { "serve", "--port", "80" }, reversed.Services["web"].Command);
        Assert.Equal("2", reversed.Services["web"].Environment["B"]);
    }

    [Fact]
    public void COMPOSE_FILE_names_the_files()
    {
        var project = Corpus.Load("override", new Dictionary<string, string> { ["COMPOSE_FILE"] = "compose.yaml" });
        Assert.Single(project.ConfigFiles);
    }

    [Fact]
    public void Env_files_fold_under_environment_and_a_missing_optional_one_is_skipped()
    {
        var app = Corpus.Load("envfiles", new Dictionary<string, string> { ["INHERITED"] = "from-shell" }).Services["app"];
        Assert.Equal("1", app.Environment["FROM_FILE"]);
        Assert.Equal("by-environment", app.Environment["FROM_FILE_OVERRIDDEN"]);
        Assert.Equal("from-shell", app.Environment["INHERITED"]);
    }

    [Fact]
    public void A_service_defined_both_here_and_in_an_included_file_is_an_error()
    {
        var e = Assert.Throws<ComposeFileException>(() => Corpus.Load("include-conflict"));
        Assert.Equal("compose.yaml: services.db: service \"db\" is already defined by the included file other.yaml", e.Message);
    }

    [Fact]
    public void Extension_keys_are_accepted_in_include_entries_ipam_and_external_long_forms()
    {
        var dir = Directory.CreateTempSubdirectory("compose-x-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "db.yaml"), "services:\n  db:\n    image: busybox\n");
            File.WriteAllText(Path.Combine(dir.FullName, "compose.yaml"), """
                include:
                  - path: db.yaml
                    x-note: shared database
                services:
                  web:
                    image: busybox
                    networks: [front, outside]
                networks:
                  front:
                    ipam:
                      x-owner: ops
                      config:
                        - subnet: 10.9.0.0/24
                          x-reserved: "yes"
                  outside:
                    external:
                      name: corp
                      x-managed-by: netops
                """);
            var project = ComposeLoader.Load(new ComposeLoadOptions { WorkingDirectory = dir.FullName, Environment = new Dictionary<string, string>(), ProjectName = "p" });
            Assert.Equal(["db", "web"], project.Services.Keys);
            Assert.Equal("10.9.0.0/24", project.Networks["front"].IpamConfig[0].Subnet);
            Assert.Equal(("corp", true), (project.Networks["outside"].Name, project.Networks["outside"].External));
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void A_reference_added_by_an_override_file_is_reported_at_its_place_in_that_file()
    {
        var dir = Directory.CreateTempSubdirectory("compose-where-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "compose.yaml"), "services:\n  web:\n    image: busybox\n    networks: [front]\nnetworks:\n  front:\n");
            File.WriteAllText(Path.Combine(dir.FullName, "compose.override.yaml"), "services:\n  web:\n    volumes:\n      - cache:/cache\n");
            var e = Assert.Throws<ComposeFileException>(() =>
                ComposeLoader.Load(new ComposeLoadOptions { WorkingDirectory = dir.FullName, Environment = new Dictionary<string, string>(), ProjectName = "p" }));
            Assert.Equal(("compose.override.yaml", 4, 9), (e.File, e.Line, e.Column));
            Assert.Equal("compose.override.yaml:4:9: services.web.volumes[0]: volume \"cache\" is not defined in the top-level volumes", e.Message);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Json_output_carries_the_same_tree()
    {
        var json = ConfigWriter.ToJson(ConfigTree.FromProject(Corpus.Load("webapp")));
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var web = doc.RootElement.GetProperty("services").GetProperty("web");
        Assert.Equal("8080", web.GetProperty("ports")[0].GetProperty("published").GetString());
        Assert.Equal(80, web.GetProperty("ports")[0].GetProperty("target").GetInt32());
        Assert.Equal("service_healthy", web.GetProperty("depends_on").GetProperty("backend").GetProperty("condition").GetString());
    }

    [Fact]
    public void Config_output_loads_again_to_the_same_output()
    {
        var first = Corpus.Load("webapp");
        var yaml = ConfigWriter.ToYaml(ConfigTree.FromProject(first));
        var dir = Directory.CreateTempSubdirectory("compose-roundtrip-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "compose.yaml"), yaml);
            var second = ComposeLoader.Load(new ComposeLoadOptions { WorkingDirectory = dir.FullName, Environment = new Dictionary<string, string>() });
            Assert.Equal(yaml, ConfigWriter.ToYaml(ConfigTree.FromProject(second)));
        }
        finally { dir.Delete(recursive: true); }
    }
}
