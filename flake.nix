{
  description = "orka-gateway: a Kubernetes-native LLM gateway";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = [ pkgs.nodejs_24 pkgs.kubectl pkgs.kustomize pkgs.jq ];
        };
      });

      packages = forAll (pkgs:
        let
          gateway = pkgs.buildNpmPackage {
            pname = "orka-gateway";
            version = (builtins.fromJSON (builtins.readFile ./package.json)).version;
            src = ./.;
            nodejs = pkgs.nodejs_24;
            # importNpmLock fetches each package named in package-lock.json by its own integrity
            # hash, so there is no npmDepsHash to keep in step with the lock file.
            npmDeps = pkgs.importNpmLock { npmRoot = ./.; };
            npmConfigHook = pkgs.importNpmLock.npmConfigHook;
            npmFlags = [ "--omit=dev" "--ignore-scripts" ];
            dontNpmBuild = true; # the sources run as TypeScript on Node 24
            nativeBuildInputs = [ pkgs.makeWrapper ];
            installPhase = ''
              runHook preInstall
              mkdir -p $out/lib/orka-gateway $out/bin
              # the lock npm leaves in node_modules names every fetched tarball, dev ones included;
              # the package.json to keep is the original, not the one rewritten to store paths
              rm -f node_modules/.package-lock.json
              cp .package.json.orig $out/lib/orka-gateway/package.json
              cp -r bin src node_modules $out/lib/orka-gateway/
              makeWrapper ${pkgs.nodejs_24}/bin/node $out/bin/orka-gateway \
                --add-flags "--max-semi-space-size=32 $out/lib/orka-gateway/bin/orka-gateway.js"
              runHook postInstall
            '';
          };
        in
        {
          default = gateway;
          image = pkgs.dockerTools.buildLayeredImage {
            name = "orka-gateway";
            tag = "latest";
            contents = [ gateway ];
            # tool workspaces live in /tmp (an emptyDir when the root file system is read-only)
            extraCommands = "mkdir -m 1777 tmp";
            config = {
              Entrypoint = [ "${gateway}/bin/orka-gateway" ];
              Cmd = [ "serve" ];
              User = "10001:10001";
              ExposedPorts = { "8080/tcp" = { }; };
              # Node brings its own CA certificates; the malloc setting (and Node's flag above): src/memory.ts
              Env = [ "NODE_ENV=production" "MALLOC_MMAP_THRESHOLD_=131072" ];
            };
          };
        });
    };
}
