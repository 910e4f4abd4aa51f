package io.jdiffusion.models.sd;

import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.jdiffusion.testdata.TestFiles.copyTree;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Where a single file's tokenizer is found: --config, a diffusers folder beside it, a fake Hugging Face cache. */
class TokenizerSearchTest {
    @TempDir
    Path tmp;

    /** A tokenizer folder (the tiny model's files) padding with {@code pad}. */
    private Path tokenizer(Path dir, String pad) throws IOException {
        copyTree(TinySd.modelDir().resolve("tokenizer"), dir);
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\": {\"content\": \"" + pad + "\"}}");
        return dir;
    }

    private Path checkpoint() throws IOException {
        return Files.writeString(Files.createDirectories(tmp.resolve("models")).resolve("dreamshaper.safetensors"), "");
    }

    @Test
    void hubCachesAreResolvedAsHuggingfaceHubDoes() {
        assertThat(TokenizerSearch.hubCaches(Map.of("HF_HUB_CACHE", "/a", "HF_HOME", "/b"), "/home/u")).containsExactly(Path.of("/a"));
        assertThat(TokenizerSearch.hubCaches(Map.of("HUGGINGFACE_HUB_CACHE", "/old"), "/home/u")).containsExactly(Path.of("/old"));
        assertThat(TokenizerSearch.hubCaches(Map.of("HF_HOME", "/b", "XDG_CACHE_HOME", "/x"), "/home/u")).containsExactly(Path.of("/b/hub"));
        assertThat(TokenizerSearch.hubCaches(Map.of("XDG_CACHE_HOME", "/x"), "/home/u")).containsExactly(Path.of("/x/huggingface/hub"));
        assertThat(TokenizerSearch.hubCaches(Map.of(), "/home/u")).containsExactly(Path.of("/home/u/.cache/huggingface/hub"));
    }

    @Test
    void theHubCacheSnapshotThatRefsMainNamesIsFoundForTheFamily() throws IOException {
        Path ckpt = checkpoint();
        Path hub = tmp.resolve("hf/hub");
        // an SD 1.5 repository with two snapshots, refs/main naming the older one
        Path repo = hub.resolve("models--stable-diffusion-v1-5--stable-diffusion-v1-5");
        tokenizer(repo.resolve("snapshots/aaa111/tokenizer"), "<|endoftext|>");
        tokenizer(repo.resolve("snapshots/bbb222/tokenizer"), "<|endoftext|>");
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), "aaa111\n");
        // an SD 2.1 repository
        tokenizer(hub.resolve("models--stabilityai--stable-diffusion-2-1/snapshots/ccc333/tokenizer"), "!");

        TokenizerSearch.Found sd1 = TokenizerSearch.find(ckpt, CheckpointFamily.SD1, null, List.of(hub));
        assertThat(sd1.folders()).containsExactly(repo.resolve("snapshots/aaa111/tokenizer"));
        assertThat(sd1.where()).isEqualTo("the Hugging Face cache of stable-diffusion-v1-5/stable-diffusion-v1-5");
        TokenizerSearch.Found sd2 = TokenizerSearch.find(ckpt, CheckpointFamily.SD2, null, List.of(hub));
        assertThat(sd2.folders()).containsExactly(hub.resolve("models--stabilityai--stable-diffusion-2-1/snapshots/ccc333/tokenizer"));

        // the CLIP repository keeps the files at its root
        Path clipOnly = tmp.resolve("hf2/hub");
        tokenizer(clipOnly.resolve("models--openai--clip-vit-large-patch14/snapshots/ddd444"), "<|endoftext|>");
        assertThat(TokenizerSearch.find(ckpt, CheckpointFamily.SD1, null, List.of(clipOnly)).folders())
                .containsExactly(clipOnly.resolve("models--openai--clip-vit-large-patch14/snapshots/ddd444"));
    }

    @Test
    void aDiffusersFolderBesideTheCheckpointIsUsedOnlyWhenItsTokenizerIsTheFamilys() throws IOException {
        Path ckpt = checkpoint();
        Path sd15Folder = tmp.resolve("models/stable-diffusion-v1-5");
        tokenizer(sd15Folder.resolve("tokenizer"), "<|endoftext|>");
        TokenizerSearch.Found found = TokenizerSearch.find(ckpt, CheckpointFamily.SD1, null, List.of());
        assertThat(found.folders()).containsExactly(sd15Folder.resolve("tokenizer"));
        assertThat(found.where()).contains("beside the checkpoint");
        // an SD 1.x tokenizer pads differently from SD 2.x's: never taken for an SD 2.x checkpoint
        assertThatThrownBy(() -> TokenizerSearch.find(ckpt, CheckpointFamily.SD2, null, List.of()))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("none was found");
        // a checkpoint inside a diffusers folder
        tokenizer(tmp.resolve("models/tokenizer"), "!");
        assertThat(TokenizerSearch.find(ckpt, CheckpointFamily.SD2, null, List.of()).folders())
                .containsExactly(tmp.resolve("models/tokenizer"));
    }

    @Test
    void aConfigFolderMayHoldOnlyTheTokenizerOrBeIt() throws IOException {
        Path ckpt = checkpoint();
        Path config = tmp.resolve("config");
        tokenizer(config.resolve("tokenizer"), "!"); // the user's choice is not second-guessed
        assertThat(TokenizerSearch.find(ckpt, CheckpointFamily.SD1, config, List.of()).folders())
                .containsExactly(config.resolve("tokenizer"));
        Path bare = tokenizer(tmp.resolve("bare"), "<|endoftext|>");
        assertThat(TokenizerSearch.find(ckpt, CheckpointFamily.SD1, bare, List.of()).folders()).containsExactly(bare);
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertThatThrownBy(() -> TokenizerSearch.find(ckpt, CheckpointFamily.SD1, empty, List.of()))
                .hasMessage("--config " + empty + ": missing tokenizer/vocab.json and tokenizer/merges.txt (the SD 1.x "
                        + "tokenizer files, e.g. the tokenizer/ folder of stable-diffusion-v1-5/stable-diffusion-v1-5)");
    }

    @Test
    void nothingFoundIsOneLineNamingTheFilesAndEveryPlaceSearched() throws IOException {
        Path ckpt = checkpoint();
        Path hub = Files.createDirectories(tmp.resolve("hf/hub"));
        assertThatThrownBy(() -> TokenizerSearch.find(ckpt, CheckpointFamily.SD2, null, List.of(hub)))
                .isInstanceOf(ModelLoadException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n")
                        .contains(ckpt + " is a single-file SD 2.x checkpoint, which holds no tokenizer, and none was found")
                        .contains("it needs tokenizer/vocab.json and tokenizer/merges.txt of stabilityai/stable-diffusion-2-1")
                        .contains(tmp.resolve("models/tokenizer").toString())
                        .contains(tmp.resolve("models/*/tokenizer").toString())
                        .contains(hub.resolve("models--stabilityai--stable-diffusion-2-1/snapshots/*/tokenizer").toString())
                        .contains(hub.resolve("models--stabilityai--stable-diffusion-2-base/snapshots/*/tokenizer").toString())
                        .contains("Pass --config DIR"));
    }
}
