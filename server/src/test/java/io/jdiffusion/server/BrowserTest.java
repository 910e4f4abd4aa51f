package io.jdiffusion.server;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The page in Debian's headless Chromium, driven by Selenium through Debian's chromedriver (no browser or
 * driver is downloaded): load it, type a prompt, generate, wait for the image, save a screenshot under
 * target/. Where Chromium is not installed the test is skipped with a message, unless
 * -Djdiffusion.requireBrowser=true (as CI runs it) makes that a failure.
 */
class BrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    @Test
    void generateFromThePage(@TempDir Path profile) throws Exception {
        boolean installed = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
        if (Boolean.getBoolean("jdiffusion.requireBrowser")) {
            assertThat(installed).as("Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)").isTrue();
        }
        Assumptions.assumeTrue(installed, "browser test skipped: install Debian's chromium and chromium-driver to run it");

        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--user-data-dir=" + profile.toAbsolutePath(), "--window-size=1280,900");
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort()
                .build();
        try (TinyServer tiny = new TinyServer(4)) {
            ChromeDriver driver = new ChromeDriver(service, options);
            try {
                driver.manage().window().setSize(new Dimension(1280, 900));
                driver.get(tiny.uri("/").toString());
                WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(120));
                wait.until(d -> !new Select(d.findElement(By.id("sampler"))).getOptions().isEmpty());
                assertThat(driver.findElement(By.id("model")).getText()).isEqualTo("model");

                driver.findElement(By.id("prompt")).sendKeys("a lighthouse at dusk, watercolor");
                new Select(driver.findElement(By.id("sampler"))).selectByVisibleText("Euler a");
                replace(driver.findElement(By.id("steps")), "6");
                replace(driver.findElement(By.id("width")), "64");
                replace(driver.findElement(By.id("height")), "64");
                replace(driver.findElement(By.id("seed")), "1234");
                driver.findElement(By.id("generate")).click();

                WebElement image = wait.until(d -> d.findElements(By.cssSelector("#gallery img.result")).stream()
                        .filter(img -> Boolean.TRUE.equals(((ChromeDriver) d).executeScript(
                                "return arguments[0].complete && arguments[0].naturalWidth > 0", img)))
                        .findFirst().orElse(null));
                Object width = driver.executeScript("return arguments[0].naturalWidth", image);
                assertThat(((Number) width).intValue()).isEqualTo(64);
                assertThat(driver.findElement(By.cssSelector("#gallery figcaption")).getText())
                        .contains("a lighthouse at dusk", "Steps: 6", "Sampler: Euler a", "Seed: 1234", "Size: 64x64");
                assertThat(driver.findElement(By.id("error")).getText()).isEmpty();

                Path target = Path.of("target", "browser-test.png");
                Files.createDirectories(target.getParent());
                File shot = driver.getScreenshotAs(OutputType.FILE);
                Files.copy(shot.toPath(), target, StandardCopyOption.REPLACE_EXISTING);
                assertThat(Files.size(target)).isPositive();
            } finally {
                driver.quit();
            }
        }
    }

    private static void replace(WebElement input, String value) {
        input.clear();
        input.sendKeys(value);
    }
}
